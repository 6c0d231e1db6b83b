package record

// reader reads big-endian fields off the front of a byte slice. Each
// method reports false, and consumes nothing, when the slice is too short.
type reader []byte

func (r *reader) u8() (uint8, bool) {
	if len(*r) < 1 {
		return 0, false
	}
	v := (*r)[0]
	*r = (*r)[1:]
	return v, true
}

func (r *reader) u16() (uint16, bool) {
	if len(*r) < 2 {
		return 0, false
	}
	v := be16(*r)
	*r = (*r)[2:]
	return v, true
}

func (r *reader) u24() (uint32, bool) {
	if len(*r) < 3 {
		return 0, false
	}
	b := *r
	*r = b[3:]
	return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2]), true
}

// bytes reads n bytes, capped so that appending to them cannot overwrite
// what follows.
func (r *reader) bytes(n int) ([]byte, bool) {
	if n < 0 || len(*r) < n {
		return nil, false
	}
	b := (*r)[:n:n]
	*r = (*r)[n:]
	return b, true
}

// vec8 reads a vector with a 1-byte length prefix.
func (r *reader) vec8() ([]byte, bool) {
	save := *r
	n, ok := r.u8()
	if !ok {
		return nil, false
	}
	b, ok := r.bytes(int(n))
	if !ok {
		*r = save
	}
	return b, ok
}

// vec16 reads a vector with a 2-byte length prefix.
func (r *reader) vec16() ([]byte, bool) {
	save := *r
	n, ok := r.u16()
	if !ok {
		return nil, false
	}
	b, ok := r.bytes(int(n))
	if !ok {
		*r = save
	}
	return b, ok
}
