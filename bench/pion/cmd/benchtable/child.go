package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// child is a role process spoken to by lines: commands on its stdin,
// PHASE/ADDR/STAT/RESULT lines on its stdout.
type child struct {
	name   string
	cmd    *exec.Cmd
	in     io.WriteCloser
	lines  chan string
	stderr bytes.Buffer
}

func startChild(name string, env, prefix []string, args ...string) (*child, error) {
	argv := append(append([]string{}, prefix...), args...)
	c := &child{name: name, cmd: exec.Command(argv[0], argv[1:]...), lines: make(chan string, 64)}
	c.cmd.Env = append(os.Environ(), env...)
	c.cmd.Stderr = &c.stderr
	var err error
	if c.in, err = c.cmd.StdinPipe(); err != nil {
		return nil, err
	}
	out, err := c.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := c.cmd.Start(); err != nil {
		return nil, err
	}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			c.lines <- sc.Text()
		}
	}()
	return c, nil
}

// expect returns the first line starting with prefix, skipping others.
func (c *child) expect(prefix string, timeout time.Duration) (string, error) {
	deadline := time.After(timeout)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				_ = c.cmd.Wait()
				return "", errorf("%s exited before %q: %v: %s", c.name, prefix, c.cmd.ProcessState, strings.TrimSpace(c.stderr.String()))
			}
			if strings.HasPrefix(l, prefix) {
				return strings.TrimSpace(strings.TrimPrefix(l, prefix)), nil
			}
		case <-deadline:
			return "", errorf("%s: no %q within %v: %s", c.name, prefix, timeout, strings.TrimSpace(c.stderr.String()))
		}
	}
}

func (c *child) send(line string) { _, _ = io.WriteString(c.in, line+"\n") }

// stop closes stdin and waits a moment for the exit, then kills.
func (c *child) stop() {
	_ = c.in.Close()
	done := make(chan struct{})
	go func() { _ = c.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		_ = c.cmd.Process.Kill()
		<-done
	}
}

// fields parses "k=v k=v" into numbers.
func fields(s string) map[string]float64 {
	m := map[string]float64{}
	for _, f := range strings.Fields(s) {
		if k, v, ok := strings.Cut(f, "="); ok {
			m[k], _ = strconv.ParseFloat(v, 64)
		}
	}
	return m
}

// serverStat is what a server role reports.
// serverStat is a server's STAT line: its CPU time (ns), RSS (bytes),
// peers, and the CPU time of its Go runtime's sysmon thread (ns; absent,
// so zero, from the C server).
type serverStat struct{ cpu, rss, peers, sysmon float64 }

func (c *child) stat() (serverStat, error) {
	c.send("stat")
	l, err := c.expect("STAT ", 10*time.Second)
	if err != nil {
		return serverStat{}, err
	}
	var s serverStat
	if _, err = fmt.Sscan(l, &s.cpu, &s.rss, &s.peers); err != nil {
		return s, err
	}
	if f := strings.Fields(l); len(f) > 3 {
		s.sysmon, _ = strconv.ParseFloat(f[3], 64)
	}
	return s, nil
}

// benchLines parses go-test-format lines: name -> metric unit -> value.
func benchLines(out string) map[string]map[string]float64 {
	res := map[string]map[string]float64{}
	for _, l := range strings.Split(out, "\n") {
		f := strings.Fields(l)
		if len(f) < 4 || !strings.HasPrefix(f[0], "Benchmark") {
			continue
		}
		m := map[string]float64{}
		for i := 2; i+1 < len(f); i += 2 {
			m[f[i+1]], _ = strconv.ParseFloat(f[i], 64)
		}
		res[f[0]] = m
	}
	return res
}
