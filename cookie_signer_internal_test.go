package openssl

import (
	"net/netip"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The signer's clock is injectable only from inside the package; these
// tests move it to check lifetimes and key rotation.
func TestCookieSignerLifetimeAndRotation(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c, err := NewCookieSigner([]byte("0123456789abcdef0123456789abcdef"), 10*time.Second)
	require.NoError(t, err)
	c.now = func() time.Time { return now }
	peer := netip.MustParseAddrPort("203.0.113.5:5684")

	cookie := c.Sign(nil, peer)
	assert.Len(t, cookie, cookieLen)
	assert.True(t, c.Verify(cookie, peer))

	now = now.Add(9 * time.Second) // likely next window: previous key still accepted
	assert.True(t, c.Verify(cookie, peer), "within its lifetime, under the current or previous key")
	now = now.Add(2 * time.Second)
	assert.False(t, c.Verify(cookie, peer), "expired after its lifetime")

	now = now.Add(-100 * time.Second)
	assert.False(t, c.Verify(cookie, peer), "issued in the future beyond the allowed skew")
}

func TestCookieSignerKeysRotateByWindow(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	c, err := NewCookieSigner([]byte("0123456789abcdef0123456789abcdef"), 10*time.Second)
	require.NoError(t, err)
	c.now = func() time.Time { return now }
	k1 := c.keysFor(now.Unix())
	now = now.Add(10 * time.Second)
	k2 := c.keysFor(now.Unix())
	assert.Equal(t, k1.cur, k2.prev, "the current key becomes the previous one")
	assert.NotEqual(t, k1.cur.epoch, k2.cur.epoch)
	now = now.Add(30 * time.Second)
	k3 := c.keysFor(now.Unix())
	assert.NotEqual(t, k2.cur, k3.prev, "after a gap both keys are derived afresh")
}
