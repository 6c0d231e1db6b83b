package dtls

import (
	"sync"
	"time"
)

// deadline is a settable point in time with a channel that is closed when
// it passes, so that a blocked Read can select on it. One timer is reused
// for the deadline's life, so setting a deadline per datagram allocates
// nothing; a new channel is made only after one has fired.
type deadline struct {
	mu    sync.Mutex
	t     time.Time
	timer *time.Timer
	done  chan struct{}
}

func newDeadline() *deadline {
	return &deadline{done: make(chan struct{})}
}

// closedChan reports whether ch is closed (false for nil). One case and a
// default compile to a receive that looks without taking the channel's
// lock, where a select of several takes every channel's: the data path
// asks this several times per record.
func closedChan(ch <-chan struct{}) bool {
	select {
	case <-ch:
		return true
	default:
		return false
	}
}

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.t = t
	if closedChan(d.done) {
		d.done = make(chan struct{}) // passed before: re-arm
	}
	if t.IsZero() {
		if d.timer != nil {
			d.timer.Stop()
		}
		return
	}
	wait := time.Until(t)
	if wait <= 0 {
		close(d.done)
		if d.timer != nil {
			d.timer.Stop()
		}
		return
	}
	if d.timer == nil {
		d.timer = time.AfterFunc(wait, d.fire)
	} else {
		d.timer.Reset(wait)
	}
}

// fire closes the channel if the deadline now set has passed: a timer
// that fires late for a deadline moved since does nothing.
func (d *deadline) fire() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if !d.t.IsZero() && !time.Now().Before(d.t) && !closedChan(d.done) {
		close(d.done)
	}
}

// when returns the deadline; the zero time for none.
func (d *deadline) when() time.Time {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.t
}

// wait returns the channel closed when the deadline passes.
func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.done
}

func (d *deadline) stop() {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil {
		d.timer.Stop()
	}
}
