package winlocal

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"github.com/google/go-cmp/cmp"
)

// spiEntry is one process to lay out as the kernel would.
type spiEntry struct {
	pid, ppid uint64
	created   int64
	session   uint32
	name      string
}

// buildSPI lays entries out like NtQuerySystemInformation at address
// base, each followed by its name and pad bytes of other data (Wine leaves
// entries unaligned: pad 3 does that).
func buildSPI(l spiLayout, base uint64, pad int, entries ...spiEntry) []byte {
	var b []byte
	put := func(at int, v uint64, size int) {
		switch size {
		case 2:
			binary.LittleEndian.PutUint16(b[at:], uint16(v))
		case 4:
			binary.LittleEndian.PutUint32(b[at:], uint32(v))
		case 8:
			binary.LittleEndian.PutUint64(b[at:], v)
		}
	}
	for i, e := range entries {
		off := len(b)
		name := utf16.Encode([]rune(e.name))
		size := l.minSize() + 8 + 2*len(name) + pad
		b = append(b, make([]byte, size)...)
		put(off+l.pid, e.pid, l.ptrSize)
		put(off+l.ppid, e.ppid, l.ptrSize)
		put(off+l.createTime, uint64(e.created), 8)
		put(off+l.session, uint64(e.session), 4)
		nameAt := off + l.minSize() + 8
		for k, u := range name {
			put(nameAt+2*k, uint64(u), 2)
		}
		put(off+l.nameLen, uint64(2*len(name)), 2)
		if len(name) > 0 {
			put(off+l.nameBuf, base+uint64(nameAt), l.ptrSize)
		}
		if i < len(entries)-1 {
			put(off, uint64(size), 4)
		}
	}
	return b
}

func TestParseProcesses(t *testing.T) {
	created := TimeToFiletime(time.Date(2030, 1, 1, 8, 0, 0, 0, time.UTC))
	entries := []spiEntry{
		{pid: 0, name: ""}, // the idle process
		{pid: 4, created: created, name: "System"},
		{pid: 1234, ppid: 4, created: created + 7, session: 1, name: "Überwachung.exe"},
	}
	want := []Process{
		{PID: 4, Created: created, Image: "System"},
		{PID: 1234, PPID: 4, Created: created + 7, SessionID: 1, Image: "Überwachung.exe"},
	}
	for _, tt := range []struct {
		name   string
		layout spiLayout
		pad    int
	}{{"64-bit", spi64, 0}, {"64-bit unaligned (Wine)", spi64, 3}, {"32-bit", spi32, 0}} {
		t.Run(tt.name, func(t *testing.T) {
			const base = 0x7ff60000 // fits 32-bit pointers too
			got, err := parseProcesses(buildSPI(tt.layout, base, tt.pad, entries...), base, tt.layout)
			if err != nil {
				t.Fatal(err)
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("processes (-want +got):\n%s", d)
			}
		})
	}
	// Malformed lists are errors, never a panic or a loop.
	b := buildSPI(spi64, 0x1000, 0, entries...)
	for _, tt := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"short", b[:spi64.minSize()-1]},
		{"next beyond the end", func() []byte { c := append([]byte(nil), b...); binary.LittleEndian.PutUint32(c, 1<<20); return c }()},
		{"entries overlap", func() []byte { c := append([]byte(nil), b...); binary.LittleEndian.PutUint32(c, 8); return c }()},
	} {
		if _, err := parseProcesses(tt.b, 0x1000, spi64); !errors.Is(err, errProcessList) {
			t.Errorf("%s: err %v, want errProcessList", tt.name, err)
		}
	}
	// A name pointing outside the buffer is left out, not read.
	c := buildSPI(spi64, 0x1000, 0, spiEntry{pid: 4, name: "System"})
	binary.LittleEndian.PutUint64(c[spi64.nameBuf:], 0x10)
	if got, err := parseProcesses(c, 0x1000, spi64); err != nil || got[0].Image != "" {
		t.Errorf("stray name pointer: %+v, %v", got, err)
	}
}

func FuzzParseProcesses(f *testing.F) {
	f.Add(buildSPI(spi64, 0x1000, 0, spiEntry{pid: 4, name: "System"}, spiEntry{pid: 8, ppid: 4, name: "a.exe"}), false)
	f.Add(buildSPI(spi32, 0x1000, 3, spiEntry{pid: 4, name: "x"}), true)
	f.Add([]byte{}, false)
	f.Fuzz(func(t *testing.T, b []byte, is32 bool) {
		l := spi64
		if is32 {
			l = spi32
		}
		ps, err := parseProcesses(b, 0x1000, l)
		if err == nil && len(ps) > len(b)/l.minSize() {
			t.Fatalf("%d processes from %d bytes", len(ps), len(b))
		}
	})
}

func TestFiletime(t *testing.T) {
	at := time.Date(2031, 2, 3, 4, 5, 6, 700, time.UTC)
	if got := FiletimeToTime(TimeToFiletime(at)); !got.Equal(at.Truncate(100 * time.Nanosecond)) {
		t.Errorf("round trip %v → %v", at, got)
	}
	if !FiletimeToTime(0).IsZero() || TimeToFiletime(time.Time{}) != 0 {
		t.Error("zero does not map to zero")
	}
	if got := TimeToFiletime(time.Unix(0, 0)); got != filetimeEpoch {
		t.Errorf("Unix epoch = %d ticks, want %d", got, int64(filetimeEpoch))
	}
}

type lookupFunc func(string) (Account, error)

func (f lookupFunc) LookupSID(sid string) (Account, error) { return f(sid) }

func TestAdminsGroup(t *testing.T) {
	for _, tt := range []struct {
		name string
		a    Account
		err  error
		want string
	}{
		{"localised", Account{Name: "Administrateurs", Domain: "BUILTIN", Type: SidTypeAlias}, nil, "Administrateurs"},
		{"a user", Account{Name: "Administrator", Type: SidTypeUser}, nil, ""},
		{"lookup fails", Account{}, ErrorNoneMapped, ""},
	} {
		got, err := AdminsGroup(lookupFunc(func(sid string) (Account, error) {
			if sid != AdministratorsSID {
				t.Errorf("looked up %s", sid)
			}
			return tt.a, tt.err
		}))
		if got != tt.want || (err == nil) != (tt.want != "") {
			t.Errorf("%s: AdminsGroup = %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}
	if !errors.Is(error(NERRUserNotFound), NERRUserNotFound) || NERRUserNotFound.Error() != "NERR_UserNotFound (2221)" || Errno(9999).Error() != "windows error 9999" {
		t.Error("Errno text")
	}
}

func TestUserName(t *testing.T) {
	for _, tc := range []struct{ name, domain, computer, want string }{
		{"alice", "DESKTOP-1", "DESKTOP-1", "alice"},
		{"alice", "desktop-1", "DESKTOP-1", "alice"},
		{"alice", "CORP", "DESKTOP-1", `CORP\alice`},
		{"SYSTEM", "NT AUTHORITY", "DESKTOP-1", `NT AUTHORITY\SYSTEM`},
		{"alice", "", "DESKTOP-1", "alice"},
	} {
		if got := UserName(tc.name, tc.domain, tc.computer); got != tc.want {
			t.Errorf("UserName(%q, %q, %q) = %q, want %q", tc.name, tc.domain, tc.computer, got, tc.want)
		}
	}
}

// TestQuoteArgRoundTrip: what quoteArg writes, the Windows argument
// splitter (CommandLineToArgvW's rules, as Go's os.Args uses them) reads
// back unchanged.
func TestQuoteArgRoundTrip(t *testing.T) {
	for _, s := range []string{``, `a`, `a b`, `a\b`, `a\\b c`, `a"b`, `a\"b`, `a\`, `a b\`, `a b\\`, `"`, `\\"\\`, "tab\there"} {
		line := CommandLine("x.exe", s)
		got := splitArgs(line)
		if len(got) != 2 || got[1] != s {
			t.Errorf("quoteArg(%q) = %s, read back as %q", s, quoteArg(s), got)
		}
	}
}

// splitArgs splits a command line by the rules of CommandLineToArgvW for
// arguments after the first (2n backslashes + quote: n backslashes and a
// quote toggle; 2n+1 backslashes + quote: n backslashes and a literal
// quote; other backslashes literal).
func splitArgs(s string) []string {
	var (
		out  []string
		cur  strings.Builder
		inQ  bool
		have bool
	)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\':
			n := 0
			for i < len(s) && s[i] == '\\' {
				n++
				i++
			}
			if i < len(s) && s[i] == '"' {
				cur.WriteString(strings.Repeat(`\`, n/2))
				if n%2 == 1 {
					cur.WriteByte('"')
				} else {
					inQ = !inQ
				}
				have = true
			} else {
				cur.WriteString(strings.Repeat(`\`, n))
				i--
			}
			have = true
		case c == '"':
			inQ = !inQ
			have = true
		case (c == ' ' || c == '\t') && !inQ:
			if have {
				out = append(out, cur.String())
				cur.Reset()
				have = false
			}
		default:
			cur.WriteByte(c)
			have = true
		}
	}
	if have {
		out = append(out, cur.String())
	}
	return out
}
