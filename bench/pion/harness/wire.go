package harness

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync"
	"time"
)

// Wire is what a server's plaintext handshake messages showed.
type Wire struct {
	CookieExchange bool   // a HelloVerifyRequest was sent
	Cipher         uint16 // from the ServerHello
	Group          uint16 // from the ServerKeyExchange (29 is X25519)
	Ticket         bool   // a NewSessionTicket was sent
}

func (w Wire) String() string {
	group := fmt.Sprintf("group 0x%04x", w.Group)
	if w.Group == 29 {
		group = "X25519"
	}
	return fmt.Sprintf("cipher 0x%04x, %s, cookie exchange %v, session ticket %v", w.Cipher, group, w.CookieExchange, w.Ticket)
}

// CheckWire runs one handshake of client against the server at addr
// through a relay that reads the server's answers, so that the suite and
// key-exchange group are what the wire carried, not what was configured.
func CheckWire(client *Client, addr string) (Wire, error) {
	srv, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return Wire{}, err
	}
	front, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return Wire{}, err
	}
	defer front.Close()
	back, err := net.DialUDP("udp", nil, srv)
	if err != nil {
		return Wire{}, err
	}
	defer back.Close()

	var (
		mu   sync.Mutex
		w    Wire
		from *net.UDPAddr
	)
	go func() { // client to server
		buf := make([]byte, 65536)
		for {
			n, a, err := front.ReadFromUDP(buf)
			if err != nil {
				return
			}
			mu.Lock()
			from = a
			mu.Unlock()
			_, _ = back.Write(buf[:n])
		}
	}()
	go func() { // server to client, read on the way
		buf := make([]byte, 65536)
		for {
			n, err := back.Read(buf)
			if err != nil {
				return
			}
			mu.Lock()
			parseFlight(buf[:n], &w)
			to := from
			mu.Unlock()
			if to != nil {
				_, _ = front.WriteToUDP(buf[:n], to)
			}
		}
	}()
	c, err := client.Dial(front.LocalAddr().String())
	if err != nil {
		return Wire{}, err
	}
	// The session ticket comes in the server's last flight, which may
	// still be on its way when the client's handshake returns.
	time.Sleep(50 * time.Millisecond)
	_ = c.Close()
	mu.Lock()
	defer mu.Unlock()
	return w, nil
}

// parseFlight reads the epoch-0 handshake messages of a datagram.
func parseFlight(d []byte, w *Wire) {
	for len(d) >= recordHeader {
		typ, epoch, n := d[0], binary.BigEndian.Uint16(d[3:]), int(binary.BigEndian.Uint16(d[11:]))
		if len(d) < recordHeader+n {
			return
		}
		frag := d[recordHeader : recordHeader+n]
		d = d[recordHeader+n:]
		if typ != 22 || epoch != 0 {
			continue
		}
		for len(frag) >= handshakeHeader {
			mt := frag[0]
			off := int(frag[6])<<16 | int(frag[7])<<8 | int(frag[8])
			fl := int(frag[9])<<16 | int(frag[10])<<8 | int(frag[11])
			if len(frag) < handshakeHeader+fl {
				break
			}
			body := frag[handshakeHeader : handshakeHeader+fl]
			frag = frag[handshakeHeader+fl:]
			switch {
			case mt == 3:
				w.CookieExchange = true
			case mt == 4:
				w.Ticket = true
			case mt == 2 && off == 0 && len(body) > 35 && len(body) >= 35+int(body[34])+2:
				at := 35 + int(body[34])
				w.Cipher = binary.BigEndian.Uint16(body[at:])
			case mt == 12 && off == 0 && len(body) >= 3 && body[0] == 3:
				w.Group = binary.BigEndian.Uint16(body[1:])
			}
		}
	}
}
