package record

import "strconv"

// Protocol versions, as the version fields of records and hello messages
// carry them.
const (
	VersionTLS10  uint16 = 0x0301
	VersionTLS11  uint16 = 0x0302
	VersionTLS12  uint16 = 0x0303
	VersionTLS13  uint16 = 0x0304
	VersionDTLS10 uint16 = 0xfeff // also the record version of a DTLS client's first flight
	VersionDTLS12 uint16 = 0xfefd
	VersionDTLS13 uint16 = 0xfefc
)

// ContentType is a record's content type (RFC 8446 5.1, RFC 6347 4.1).
type ContentType uint8

// Content types.
const (
	ChangeCipherSpec ContentType = 20
	Alert            ContentType = 21
	Handshake        ContentType = 22
	ApplicationData  ContentType = 23
	Heartbeat        ContentType = 24 // RFC 6520
)

var contentTypeNames = map[ContentType]string{
	ChangeCipherSpec: "ChangeCipherSpec",
	Alert:            "Alert",
	Handshake:        "Handshake",
	ApplicationData:  "ApplicationData",
	Heartbeat:        "HeartBeat",
}

// String returns the content type's name as SSL_trace(3) prints it
// ("Handshake"), or "ContentType(n)" for one without a name.
func (t ContentType) String() string {
	if s, ok := contentTypeNames[t]; ok {
		return s
	}
	return "ContentType(" + strconv.Itoa(int(t)) + ")"
}

// HandshakeType is a handshake message's type (RFC 8446 4, RFC 6347 4.3.2).
type HandshakeType uint8

// Handshake message types. A HelloRetryRequest is a ServerHello
// (ServerHello.IsHelloRetryRequest tells them apart).
const (
	TypeHelloRequest        HandshakeType = 0
	TypeClientHello         HandshakeType = 1
	TypeServerHello         HandshakeType = 2
	TypeHelloVerifyRequest  HandshakeType = 3 // DTLS 1.0 and 1.2 only
	TypeNewSessionTicket    HandshakeType = 4
	TypeEndOfEarlyData      HandshakeType = 5
	TypeEncryptedExtensions HandshakeType = 8
	TypeCertificate         HandshakeType = 11
	TypeServerKeyExchange   HandshakeType = 12
	TypeCertificateRequest  HandshakeType = 13
	TypeServerHelloDone     HandshakeType = 14
	TypeCertificateVerify   HandshakeType = 15
	TypeClientKeyExchange   HandshakeType = 16
	TypeFinished            HandshakeType = 20
	TypeCertificateURL      HandshakeType = 21
	TypeCertificateStatus   HandshakeType = 22
	TypeSupplementalData    HandshakeType = 23
	TypeKeyUpdate           HandshakeType = 24
	TypeCompressedCert      HandshakeType = 25 // RFC 8879
	TypeNextProtocol        HandshakeType = 67 // NPN, never standardized
	TypeMessageHash         HandshakeType = 254
)

var handshakeTypeNames = map[HandshakeType]string{
	TypeHelloRequest:        "HelloRequest",
	TypeClientHello:         "ClientHello",
	TypeServerHello:         "ServerHello",
	TypeHelloVerifyRequest:  "HelloVerifyRequest",
	TypeNewSessionTicket:    "NewSessionTicket",
	TypeEndOfEarlyData:      "EndOfEarlyData",
	TypeEncryptedExtensions: "EncryptedExtensions",
	TypeCertificate:         "Certificate",
	TypeServerKeyExchange:   "ServerKeyExchange",
	TypeCertificateRequest:  "CertificateRequest",
	TypeServerHelloDone:     "ServerHelloDone",
	TypeCertificateVerify:   "CertificateVerify",
	TypeClientKeyExchange:   "ClientKeyExchange",
	TypeFinished:            "Finished",
	TypeCertificateURL:      "CertificateUrl",
	TypeCertificateStatus:   "CertificateStatus",
	TypeSupplementalData:    "SupplementalData",
	TypeKeyUpdate:           "KeyUpdate",
	TypeCompressedCert:      "CompressedCertificate",
	TypeNextProtocol:        "NextProto",
	TypeMessageHash:         "MessageHash",
}

// String returns the message type's name as SSL_trace(3) prints it
// ("ClientHello"), or "HandshakeType(n)" for one without a name.
func (t HandshakeType) String() string {
	if s, ok := handshakeTypeNames[t]; ok {
		return s
	}
	return "HandshakeType(" + strconv.Itoa(int(t)) + ")"
}

// ExtensionType is a hello extension's type (the IANA "TLS
// ExtensionType Values" registry).
type ExtensionType uint16

// Extension types.
const (
	ExtServerName              ExtensionType = 0
	ExtStatusRequest           ExtensionType = 5
	ExtSupportedGroups         ExtensionType = 10
	ExtECPointFormats          ExtensionType = 11
	ExtSignatureAlgorithms     ExtensionType = 13
	ExtUseSRTP                 ExtensionType = 14
	ExtALPN                    ExtensionType = 16
	ExtPadding                 ExtensionType = 21
	ExtEncryptThenMAC          ExtensionType = 22
	ExtExtendedMasterSecret    ExtensionType = 23
	ExtSessionTicket           ExtensionType = 35
	ExtPreSharedKey            ExtensionType = 41
	ExtEarlyData               ExtensionType = 42
	ExtSupportedVersions       ExtensionType = 43
	ExtCookie                  ExtensionType = 44 // RFC 8446 4.2.2: the HelloRetryRequest cookie
	ExtPSKKeyExchangeModes     ExtensionType = 45
	ExtSignatureAlgorithmsCert ExtensionType = 50
	ExtKeyShare                ExtensionType = 51
	ExtRenegotiationInfo       ExtensionType = 0xff01
)
