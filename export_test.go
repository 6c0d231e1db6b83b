package openssl

// SetFreeMark and FreedMark let the external cleanup test see an SSL_CTX
// freed (see ctx.go).
func SetFreeMark(c *Ctx, mark uintptr) error { return c.setFreeMark(mark) }

// FreedMark returns the mark of the last marked SSL_CTX freed.
func FreedMark() uintptr { return freedMark() }
