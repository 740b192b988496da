"""A broker whose ACL refuses the door's subscription to its commands and acks (amqtt's topic
ACL; mosquitto 2.0's acl_file grants every subscription and filters messages instead): the firmware on a virtual board sees the SUBACK's 0x80, ends the link with the status
`denied` (a LINK record, what the installer reads on site) and tries again later; it never sits
"online" unable to hear a command or an ack. The events it logged stay on the lock."""
from doorkit.broker import Broker
from doorkit.sim.vboard.supervisor import VirtualBoard
from conftest import doorkit_cli, link_statuses


def dk(*argv, **kw):
    p = doorkit_cli(*argv, **kw)
    return p.stdout + p.stderr


def test_a_refused_subscription_is_the_link_status_denied(tmp_path):
    with Broker("amqtt", subscribe_acl=["doorkit/+/state"]) as b:  # not doorkit/front/cmd nor ack
        d = tmp_path / "front"
        dk("provision", "new", d, "--door-id", "front")
        dk("provision", "network", d, "--broker", "127.0.0.1:%d" % b.port, "--keepalive", "10")
        dk("image", "--format", "raw", "--door", d, "--out", tmp_path / "f.img")
        vb = VirtualBoard(str(tmp_path / "f.img"), listen=("127.0.0.1", 0)).start()
        try:
            links = link_statuses(vb, d, "denied")
        finally:
            vb.stop()
    assert ("online", "denied") in zip(links, links[1:]) and ("denied", "connecting") in zip(links, links[1:]), links
