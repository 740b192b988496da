"""The broker's TLS certificate as the locks pin it (docs/network.md "TLS"): a self-signed one made
here for a site's own broker, or any certificate (its CA's) read from PEM or DER. The lock trusts
exactly that certificate; it checks that the broker's certificate names the address it dials (or
the name given with it)."""
import base64
import datetime
import ipaddress

from doorkit.errors import UserError, EXIT_DATA, EXIT_USAGE


def make_broker_cert(ips=(), names=(), days=3650):
    """A self-signed EC P-256 certificate for a broker at these IPv4 addresses / DNS names:
    -> (certificate PEM, private key PEM)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID
    if not ips and not names:
        raise UserError(EXIT_USAGE, "the broker's certificate needs --ip (or --name): what the locks dial")
    alt = []
    for ip in ips:
        try:
            alt.append(x509.IPAddress(ipaddress.IPv4Address(ip)))
        except ValueError:
            raise UserError(EXIT_USAGE, "--ip %r is not an IPv4 address" % ip)
    for n in names:
        if not n or any(c.isspace() for c in n) or len(n) > 253:
            raise UserError(EXIT_USAGE, "--name %r is not a host name" % n)
        alt.append(x509.DNSName(n))
    if not 1 <= days <= 36500:
        raise UserError(EXIT_USAGE, "--days must be 1..36500, not %d" % days)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, (list(names) + list(ips))[0])])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=days))
            .add_extension(x509.SubjectAlternativeName(alt), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(key, hashes.SHA256()))
    return (cert.public_bytes(serialization.Encoding.PEM),
            key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()))


def read_cert(path) -> bytes:
    """The first certificate in a PEM or DER file, as DER (checked: it parses as X.509)."""
    from cryptography import x509
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise UserError(EXIT_USAGE, "%s: %s" % (path, e.strerror or e))
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            cert = x509.load_pem_x509_certificate(data)
        else:
            cert = x509.load_der_x509_certificate(data)
    except ValueError:
        raise UserError(EXIT_DATA, "%s: not an X.509 certificate (PEM or DER)" % path)
    from cryptography.hazmat.primitives import serialization
    return cert.public_bytes(serialization.Encoding.DER)


def ca_field(der: bytes) -> str:
    """The certificate as /net.json's tls.ca holds it (base64 DER, one line)."""
    return base64.b64encode(der).decode()


def describe(ca_b64: str) -> str:
    """One line about a pinned certificate: its subject, the names it holds, when it expires."""
    from cryptography import x509
    try:
        cert = x509.load_der_x509_certificate(base64.b64decode(ca_b64))
    except ValueError:
        return "(not a certificate)"
    try:
        alt = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(v) for v in alt.get_values_for_type(x509.IPAddress)] + alt.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        names = []
    return "%s%s, until %s" % (cert.subject.rfc4514_string(), " (%s)" % ", ".join(names) if names else "",
                               cert.not_valid_after_utc.strftime("%Y-%m-%d"))
