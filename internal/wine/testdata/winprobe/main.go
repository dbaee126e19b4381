//go:build windows

// Command winprobe is a small Windows program the wine package's tests run
// under Wine: it proves that a Go exe starts (the ProcessPrng shim), shows a
// MessageBox a test can answer with xdotool, removes directories (the
// RemoveAll overlay), and leaves processes for Close to end.
//
//	winprobe msgbox CAPTION TEXT   MessageBox Yes/No (default No, topmost); exits with the answer (IDYES 6, IDNO 7)
//	winprobe rand                  prints 32 random bytes in hex (crypto/rand → ProcessPrng)
//	winprobe removeall             makes a temp tree and os.RemoveAll's it
//	winprobe udp                   sends a datagram to itself over 127.0.0.1 (the UDP overlay); prints "udp ok"
//	winprobe spawn                 starts `winprobe sleep` and sleeps; prints "ready" when both run
//	winprobe sleep                 sleeps until killed
package main

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"syscall"
	"time"
	"unsafe"
)

const (
	mbYesNo      = 0x00000004
	mbDefButton2 = 0x00000100
	mbTopmost    = 0x00040000
)

func main() {
	if len(os.Args) < 2 {
		fail(fmt.Errorf("usage: winprobe msgbox|rand|removeall|udp|spawn|sleep"))
	}
	switch os.Args[1] {
	case "msgbox":
		if len(os.Args) != 4 {
			fail(fmt.Errorf("usage: winprobe msgbox CAPTION TEXT"))
		}
		os.Exit(messageBox(os.Args[2], os.Args[3]))
	case "rand":
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			fail(err)
		}
		fmt.Println(hex.EncodeToString(b))
	case "removeall":
		dir, err := os.MkdirTemp("", "winprobe-")
		if err != nil {
			fail(err)
		}
		if err := os.MkdirAll(filepath.Join(dir, "a", "b"), 0o700); err != nil {
			fail(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "a", "b", "f"), []byte("x"), 0o600); err != nil {
			fail(err)
		}
		if err := os.RemoveAll(dir); err != nil {
			fail(err)
		}
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			fail(fmt.Errorf("%s still there: %v", dir, err))
		}
		fmt.Println("removed")
	case "udp":
		c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			fail(err)
		}
		defer c.Close()
		if _, err := c.WriteTo([]byte("ping"), c.LocalAddr()); err != nil {
			fail(err)
		}
		buf := make([]byte, 16)
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		n, _, err := c.ReadFrom(buf)
		if err != nil || string(buf[:n]) != "ping" {
			fail(fmt.Errorf("read %q: %v", buf[:n], err))
		}
		fmt.Println("udp ok")
	case "spawn":
		child := exec.Command(os.Args[0], "sleep")
		if err := child.Start(); err != nil {
			fail(err)
		}
		fmt.Println("ready")
		time.Sleep(time.Hour)
	case "sleep":
		time.Sleep(time.Hour)
	default:
		fail(fmt.Errorf("unknown command %q", os.Args[1]))
	}
}

// messageBox shows a topmost Yes/No box whose default is No, like the
// agent's consent dialog, and returns the button pressed.
func messageBox(caption, text string) int {
	runtime.LockOSThread() // the thread that owns a window must pump its messages
	c, err := syscall.UTF16PtrFromString(caption)
	if err != nil {
		fail(err)
	}
	t, err := syscall.UTF16PtrFromString(text)
	if err != nil {
		fail(err)
	}
	proc := syscall.NewLazyDLL("user32.dll").NewProc("MessageBoxW")
	r, _, err := proc.Call(0, uintptr(unsafe.Pointer(t)), uintptr(unsafe.Pointer(c)), mbYesNo|mbDefButton2|mbTopmost)
	if r == 0 {
		fail(fmt.Errorf("MessageBoxW: %v", err))
	}
	fmt.Printf("answer %d\n", r)
	return int(r)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "winprobe:", err)
	os.Exit(1)
}
