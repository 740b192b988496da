# The timer table every LockCore runner uses.
from lockctl.timers import Timers
from lockctl.codes import A_ARM, A_CANCEL, A_STOP


def test_apply_arm_cancel_and_other_actions():
    t = Timers()
    assert t.apply((A_ARM, 2, 500)) and t.apply((A_ARM, 1, 300))
    assert not t.apply((A_STOP,))
    assert t.next_deadline() == 300 and len(t) == 2
    assert t.apply((A_CANCEL, 1)) and t.deadline(1) is None
    assert t.apply((A_CANCEL, 1))  # cancelling twice is harmless
    assert t.next_deadline() == 500


def test_pop_due_in_deadline_order_with_ties_by_id():
    t = Timers()
    for tid, d in ((4, 100), (2, 100), (3, 50), (1, 900)):
        t.arm(tid, d)
    assert t.pop_due(40) is None
    assert [t.pop_due(100), t.pop_due(100), t.pop_due(100), t.pop_due(100)] == [3, 2, 4, None]
    assert t.next_deadline() == 900
    t.arm(1, 950)  # re-arming replaces the deadline
    assert t.pop_due(900) is None and t.pop_due(950) == 1 and len(t) == 0


def test_rebase_moves_every_deadline():
    t = Timers()
    t.arm(1, 1000)
    t.arm(2, 1500)
    t.rebase(900)
    assert t.deadline(1) == 100 and t.deadline(2) == 600 and t.next_deadline() == 100
