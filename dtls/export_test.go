package dtls

// ClientCtxCount is the number of client Ctxs cached for live Configs.
func ClientCtxCount() int {
	n := 0
	clientCtxs.Range(func(any, any) bool { n++; return true })
	return n
}

// OwnSocket reports whether c reads a socket of its own (own.go).
func OwnSocket(c *Conn) bool { return c.direct() }

// VerifyCacheHits is how many verifications c's Ctx answered from its
// cache (verifycache.go) so far.
func VerifyCacheHits(c *Conn) int {
	c.verified.mu.Lock()
	defer c.verified.mu.Unlock()
	return c.verified.hits
}
