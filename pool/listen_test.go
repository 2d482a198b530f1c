package pool

import (
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The pool has no authentication: Listen takes unix sockets and loopback
// TCP addresses only.
func TestListenRefusesNonLoopbackTCP(t *testing.T) {
	for _, addr := range []string{"0.0.0.0:0", "192.0.2.1:1", ":0", "[::]:0", "example.com:50051", "10.0.0.1:50051"} {
		l, err := Listen(addr)
		if err == nil {
			l.Close()
			t.Errorf("Listen(%q) succeeded", addr)
			continue
		}
		for _, want := range []string{addr, "loopback", "no authentication"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("Listen(%q) error %q does not contain %q", addr, err, want)
			}
		}
	}
	for _, addr := range []string{"nonsense", "unix://"} {
		if l, err := Listen(addr); err == nil {
			l.Close()
			t.Errorf("Listen(%q) succeeded", addr)
		}
	}
}

func TestListenAcceptsLoopbackTCP(t *testing.T) {
	addrs := []string{"127.0.0.1:0", "localhost:0"}
	if l, err := net.Listen("tcp", "[::1]:0"); err == nil {
		l.Close()
		addrs = append(addrs, "[::1]:0")
	}
	for _, addr := range addrs {
		l, err := Listen(addr)
		if err != nil {
			t.Errorf("Listen(%q): %v", addr, err)
			continue
		}
		if ip := l.Addr().(*net.TCPAddr).IP; !ip.IsLoopback() {
			t.Errorf("Listen(%q) listens on %v", addr, l.Addr())
		}
		l.Close()
	}
	for _, host := range []string{"127.0.0.1", "127.1.2.3", "::1", "localhost"} {
		if !isLoopback(host) {
			t.Errorf("isLoopback(%q) = false", host)
		}
	}
}

// serves reports whether a unix socket accepts connections.
func serves(path string) bool {
	c, err := net.Dial("unix", path)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func acceptLoop(l net.Listener) {
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}

func TestListenUnixSocket(t *testing.T) {
	dir := t.TempDir()
	for _, addr := range []string{"unix://" + filepath.Join(dir, "a.sock"), "unix:" + filepath.Join(dir, "b.sock")} {
		l, err := Listen(addr)
		if err != nil {
			t.Fatalf("Listen(%q): %v", addr, err)
		}
		if l.Addr().Network() != "unix" {
			t.Fatalf("Listen(%q) network %s", addr, l.Addr().Network())
		}
		acceptLoop(l)
		path := strings.TrimPrefix(strings.TrimPrefix(addr, "unix://"), "unix:")
		if !serves(path) {
			t.Fatalf("%s does not accept connections", path)
		}
		l.Close()
	}
}

// A socket file left by a killed pool is replaced.
func TestListenReplacesStaleSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pool.sock")
	old, err := net.Listen("unix", path)
	if err != nil {
		t.Fatal(err)
	}
	old.(*net.UnixListener).SetUnlinkOnClose(false)
	old.Close() // as if killed: the file stays, nobody listens
	if fi, err := os.Lstat(path); err != nil || fi.Mode()&os.ModeSocket == 0 {
		t.Fatalf("stale socket not left behind: %v", err)
	}
	l, err := Listen("unix://" + path)
	if err != nil {
		t.Fatalf("Listen over a stale socket: %v", err)
	}
	defer l.Close()
	acceptLoop(l)
	if !serves(path) {
		t.Fatal("the new listener does not accept connections")
	}
}

// A socket another live process serves is left alone.
func TestListenRefusesLiveSocket(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pool.sock")
	live, err := Listen("unix://" + path)
	if err != nil {
		t.Fatal(err)
	}
	defer live.Close()
	acceptLoop(live)
	l, err := Listen("unix://" + path)
	if err == nil {
		l.Close()
		t.Fatal("Listen took over a socket another listener serves")
	}
	for _, want := range []string{"already serves", path} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not contain %q", err, want)
		}
	}
	if !serves(path) {
		t.Fatal("the live listener's socket was removed")
	}
}

// A file at the socket's path that is not a socket is not removed.
func TestListenKeepsNonSocketFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pool.sock")
	if err := os.WriteFile(path, []byte("data"), 0o600); err != nil {
		t.Fatal(err)
	}
	if l, err := Listen("unix://" + path); err == nil {
		l.Close()
		t.Fatal("Listen replaced a regular file")
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "data" {
		t.Fatalf("the file was touched: %q, %v", b, err)
	}
}
