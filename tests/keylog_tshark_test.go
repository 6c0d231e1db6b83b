package tests

// Config.KeyLogWriter (issue 12) against Wireshark's dissector: tshark
// decrypts a DTLS session recorded from a dtls.Client with the key log it
// wrote. The datagrams are written to a pcap file by the test itself (no
// live capture, which needs privileges): raw IPv4 packets around them.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/hex"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/openssl-stateless/openssl/dtls"
	"github.com/openssl-stateless/openssl/internal/testpeer"
)

// recordingConn is a client's PacketConn that keeps every datagram, with
// its direction, for the pcap file.
type recordingConn struct {
	*net.UDPConn
	mu      sync.Mutex
	packets []packet
}

type packet struct {
	out  bool
	data []byte
}

func (r *recordingConn) ReadFrom(p []byte) (int, net.Addr, error) {
	n, a, err := r.UDPConn.ReadFrom(p)
	if err == nil {
		r.mu.Lock()
		r.packets = append(r.packets, packet{false, append([]byte(nil), p[:n]...)})
		r.mu.Unlock()
	}
	return n, a, err
}

func (r *recordingConn) WriteTo(p []byte, a net.Addr) (int, error) {
	r.mu.Lock()
	r.packets = append(r.packets, packet{true, append([]byte(nil), p...)})
	r.mu.Unlock()
	return r.UDPConn.WriteTo(p, a)
}

// pcap writes the datagrams as a pcap file of raw IPv4 packets
// (LINKTYPE_RAW) between the two loopback ports.
func (r *recordingConn) pcap(clientPort, serverPort int) []byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	var b bytes.Buffer
	hdr := []any{uint32(0xa1b2c3d4), uint16(2), uint16(4), int32(0), uint32(0), uint32(65535), uint32(101)}
	for _, v := range hdr {
		_ = binary.Write(&b, binary.LittleEndian, v)
	}
	for i, p := range r.packets {
		src, dst := clientPort, serverPort
		if !p.out {
			src, dst = serverPort, clientPort
		}
		ip := make([]byte, 28, 28+len(p.data))
		ip[0], ip[8], ip[9] = 0x45, 64, 17
		binary.BigEndian.PutUint16(ip[2:], uint16(28+len(p.data)))
		copy(ip[12:], []byte{127, 0, 0, 1})
		copy(ip[16:], []byte{127, 0, 0, 1})
		var sum uint32
		for j := 0; j < 20; j += 2 {
			sum += uint32(binary.BigEndian.Uint16(ip[j:]))
		}
		for sum > 0xffff {
			sum = sum>>16 + sum&0xffff
		}
		binary.BigEndian.PutUint16(ip[10:], ^uint16(sum))
		binary.BigEndian.PutUint16(ip[20:], uint16(src))
		binary.BigEndian.PutUint16(ip[22:], uint16(dst))
		binary.BigEndian.PutUint16(ip[24:], uint16(8+len(p.data)))
		ip = append(ip, p.data...)
		for _, v := range []uint32{uint32(1700000000 + i), 0, uint32(len(ip)), uint32(len(ip))} {
			_ = binary.Write(&b, binary.LittleEndian, v)
		}
		b.Write(ip)
	}
	return b.Bytes()
}

func TestKeyLogDecryptsWithTshark(t *testing.T) {
	p := newPKI(t)
	var keylog bytes.Buffer
	l, err := dtls.Listen("udp", "127.0.0.1:0", p.serverConfig())
	require.NoError(t, err)
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.SetReadDeadline(time.Now().Add(testpeer.Timeout))
		buf := make([]byte, 1500)
		if n, err := c.Read(buf); err == nil {
			_, _ = c.Write(buf[:n])
		}
	}()
	uc, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	require.NoError(t, err)
	rec := &recordingConn{UDPConn: uc}
	cfg := p.clientConfig("")
	cfg.KeyLogWriter = &keylog // one Dial, one goroutine: no lock needed
	cfg.CipherList = "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256"
	c, err := dtls.Client(rec, l.Addr().(*net.UDPAddr), cfg)
	require.NoError(t, err)
	secret := "iot-payload-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	_, err = c.Write([]byte(secret))
	require.NoError(t, err)
	buf := make([]byte, 1500)
	require.NoError(t, c.SetReadDeadline(time.Now().Add(testpeer.Timeout)))
	n, err := c.Read(buf)
	require.NoError(t, err)
	require.Equal(t, secret, string(buf[:n]))
	require.NoError(t, c.Close())
	uc.Close()

	lines := strings.Split(strings.TrimSpace(keylog.String()), "\n")
	require.Len(t, lines, 1, "one key log line for one handshake")
	f := strings.Fields(lines[0])
	require.Len(t, f, 3)
	require.Equal(t, "CLIENT_RANDOM", f[0])
	// The ClientHello on the wire carries the random the line names (the
	// second ClientHello, after the HelloVerifyRequest, has the same).
	random, err := hex.DecodeString(f[1])
	require.NoError(t, err)
	sawRandom := false
	for _, pk := range rec.packets {
		if pk.out && bytes.Contains(pk.data, random) {
			sawRandom = true
		}
	}
	assert.True(t, sawRandom, "a ClientHello sent carries the client random of the key log line")

	bin, err := exec.LookPath("tshark")
	if err != nil {
		t.Skip("tshark is not installed: the decryption step is skipped (apt-get install tshark)")
	}
	dir := t.TempDir()
	pcapFile, keyFile := filepath.Join(dir, "dtls.pcap"), filepath.Join(dir, "keys.log")
	require.NoError(t, os.WriteFile(pcapFile, rec.pcap(uc.LocalAddr().(*net.UDPAddr).Port, l.Addr().(*net.UDPAddr).Port), 0o600))
	require.NoError(t, os.WriteFile(keyFile, keylog.Bytes(), 0o600))
	ctx, cancel := context.WithTimeout(context.Background(), 2*testpeer.Timeout)
	defer cancel()
	port := strconv.Itoa(l.Addr().(*net.UDPAddr).Port)
	out, err := exec.CommandContext(ctx, bin, "-n", "-r", pcapFile, "-o", "tls.keylog_file:"+keyFile,
		"-d", "udp.port=="+port+",dtls", "-T", "fields", "-e", "data.data").CombinedOutput()
	if err != nil {
		t.Skipf("tshark does not run here (%v): the decryption step is skipped; output: %s", err, out)
	}
	assert.Contains(t, string(out), hex.EncodeToString([]byte(secret)),
		"tshark decrypted the application data with the key log; its output: %s", out)
}
