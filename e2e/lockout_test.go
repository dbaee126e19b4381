package e2e

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cookiejar"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"porthole/broker"
	"porthole/internal/browsertest"
	"porthole/internal/clock/clocktest"
)

// from is an HTTP client whose connections come from ip: on Linux every
// 127.0.0.0/8 address reaches a broker on 127.0.0.1, so a test can stand
// in for many client addresses. It keeps cookies.
func from(ip string) *http.Client {
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 10 * time.Second}
	return &http.Client{Jar: jar, Timeout: 5 * time.Minute, Transport: &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true}}
}

// post sends a JSON body and returns the status and Retry-After (seconds).
func post(t *testing.T, c *http.Client, url string, body any) (status, retryAfter int) {
	t.Helper()
	b, _ := json.Marshal(body)
	res, err := c.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Error(err)
		return 0, 0
	}
	defer res.Body.Close()
	ra, _ := strconv.Atoi(res.Header.Get("Retry-After"))
	return res.StatusCode, ra
}

// burst sends n requests at once (each made by req(i)) and counts the
// answers by status.
func burst(t *testing.T, n int, req func(i int) (status int)) map[int]int {
	t.Helper()
	var mu sync.Mutex
	counts := map[int]int{}
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			st := req(i)
			mu.Lock()
			counts[st]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	return counts
}

// startPatientBroker is a broker on a frozen clock whose logins wait as
// long as it takes for a hash slot, so that a slow (race-built, shared)
// machine shows the limits and never a busy 503.
func startPatientBroker(t *testing.T) (*env, *clocktest.Fake) {
	t.Helper()
	clk := clocktest.New(time.Now())
	return startBrokerWith(t, t.TempDir(), clk, func(c *broker.Config) { c.PasswordHashWait = 10 * time.Minute }), clk
}

// TestLoginLimitsUnderConcurrency: wrong passwords sent all at once are
// each counted before any is checked, so exactly the limit reach argon2
// (answered 401 and audited as bad_credentials) and the rest are refused
// with 429 — per account from one address and from thirty, and per
// address across thirty made-up names. (Checking the lock first and
// counting after the hash let all of them through.)
func TestLoginLimitsUnderConcurrency(t *testing.T) {
	e, _ := startPatientBroker(t)
	admin := e.login(t, "admin", e.Password)
	newUser(t, admin, "pat", "technician")
	newUser(t, admin, "quinn", "technician")
	login := func(ip, user string) int {
		st, _ := post(t, from(ip), e.URL+"/api/login", map[string]string{"username": user, "password": "wrong"})
		return st
	}
	for _, tc := range []struct {
		name string
		n    int
		req  func(i int) int
		want map[int]int
	}{
		// Account limit: 5 free, the 6th starts the delay.
		{"16 at once, one account, one address", 16, func(int) int { return login("127.0.0.2", "pat") }, map[int]int{401: 6, 429: 10}},
		{"30 at once, one account, 30 addresses", 30, func(i int) int { return login(fmt.Sprintf("127.0.1.%d", i+1), "quinn") }, map[int]int{401: 6, 429: 24}},
		// Address limit: 10 free, the 11th starts the delay.
		{"30 at once, one address, 30 names", 30, func(i int) int { return login("127.0.0.3", fmt.Sprintf("ghost%d", i)) }, map[int]int{401: 11, 429: 19}},
	} {
		got := burst(t, tc.n, tc.req)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s: answers %v, want %v", tc.name, got, tc.want)
		}
	}
	checked := map[string]int{}
	for _, r := range auditRecords(t, admin, "login.failed") {
		if r.Details["reason"] == "bad_credentials" {
			name := r.Details["username"].(string)
			if len(name) > 5 && name[:5] == "ghost" {
				name = "ghost*"
			}
			checked[name]++
		}
	}
	if want := map[string]int{"pat": 6, "quinn": 6, "ghost*": 11}; fmt.Sprint(checked) != fmt.Sprint(want) {
		t.Errorf("passwords checked (audited bad_credentials): %v, want %v", checked, want)
	}
}

// TestCodeLimitsUnderConcurrency: the same for second-factor codes: 16
// wrong codes at once on one pending login are 6 checked (TOTP and every
// recovery code) and 10 refused.
func TestCodeLimitsUnderConcurrency(t *testing.T) {
	e, clk := startPatientBroker(t)
	admin := e.login(t, "admin", e.Password)
	_, pw := newUser(t, admin, "tess", "technician")
	tess := e.login(t, "tess", pw)
	enrollAPI(t, tess, clk)
	c := from("127.0.0.4")
	var step struct{ MFA string }
	b, _ := json.Marshal(map[string]string{"username": "tess", "password": pw})
	res, err := c.Post(e.URL+"/api/login", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	_ = json.NewDecoder(res.Body).Decode(&step)
	res.Body.Close()
	if res.StatusCode != 200 || step.MFA != "verify" {
		t.Fatalf("password step: %d %+v", res.StatusCode, step)
	}
	got := burst(t, 16, func(int) int {
		st, _ := post(t, c, e.URL+"/api/login/mfa", map[string]string{"code": "000000"})
		return st
	})
	if want := map[int]int{401: 6, 429: 10}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("16 wrong codes at once: %v, want %v", got, want)
	}
	n := 0
	for _, r := range auditRecords(t, admin, "mfa.failed") {
		if r.Details["reason"] == "invalid" {
			n++
		}
	}
	if n != 6 {
		t.Fatalf("codes checked (audited invalid): %d, want 6", n)
	}
}

// lockOut guesses user's password from c until the account is locked for
// its longest, 15 minutes (moving clk past every shorter delay).
func lockOut(t *testing.T, e *env, clk *clocktest.Fake, c *http.Client, user string) {
	t.Helper()
	for range 40 {
		st, ra := post(t, c, e.URL+"/api/login", map[string]string{"username": user, "password": "wrong"})
		switch {
		case st == 429 && ra > 14*60:
			return
		case st == 429:
			clk.Advance(time.Duration(ra) * time.Second)
		case st != 401:
			t.Fatalf("guessing %s: %d", user, st)
		}
	}
	t.Fatalf("%s never locked", user)
}

// TestLockoutSparesKnownAddresses: a guesser elsewhere locks an account
// out for strangers only: its user still logs in from an address it has
// logged in from before, where wrong passwords slow (at most a minute) and
// never lock. An admin sees the lock and lifts it (audited), in the API and
// on the Users page in Chromium.
func TestLockoutSparesKnownAddresses(t *testing.T) {
	e, clk := startPatientBroker(t)
	admin := e.login(t, "admin", e.Password)
	id, pw := newUser(t, admin, "kim", "technician")
	home, away := from("127.0.0.5"), from("127.0.0.6")
	right := map[string]string{"username": "kim", "password": pw}
	if st, _ := post(t, home, e.URL+"/api/login", right); st != 200 {
		t.Fatalf("kim at home: %d", st)
	}
	lockOut(t, e, clk, away, "kim")
	if st, ra := post(t, away, e.URL+"/api/login", right); st != 429 || ra < 14*60 {
		t.Fatalf("right password from the guesser's address: %d retry-after %d, want 429 for ~15 min", st, ra)
	}
	if st, ra := post(t, from("127.0.0.7"), e.URL+"/api/login", right); st != 429 || ra < 14*60 {
		t.Fatalf("right password from a new address: %d retry-after %d, want 429", st, ra)
	}
	if st, _ := post(t, home, e.URL+"/api/login", right); st != 200 {
		t.Fatalf("kim at home while locked for strangers: %d, want 200", st)
	}
	// At home, guessing is slowed, never locked out.
	for i := range 8 {
		st, ra := post(t, home, e.URL+"/api/login", map[string]string{"username": "kim", "password": "wrong"})
		if st == 429 {
			if ra < 1 || ra > 60 {
				t.Fatalf("wrong password %d at home: retry-after %d, want 1..60", i, ra)
			}
			clk.Advance(time.Duration(ra) * time.Second)
		}
	}
	if st, ra := post(t, home, e.URL+"/api/login", right); st == 429 {
		clk.Advance(time.Duration(ra) * time.Second)
	}
	if st, _ := post(t, home, e.URL+"/api/login", right); st != 200 {
		t.Fatalf("kim at home after her own typos: %d", st)
	}

	// The admin sees the lock and lifts it on the Users page.
	var lock struct {
		Locked     bool `json:"locked"`
		RetryAfter int  `json:"retry_after"`
	}
	if st, body := admin.do("GET", "/api/users/"+id+"/lock", nil, &lock); st != 200 || !lock.Locked || lock.RetryAfter < 60 {
		t.Fatalf("lock state: %d %s", st, body)
	}
	ctx := browsertest.New(t)
	browsertest.Step(ctx, t, 30*time.Second,
		chromedp.Navigate(e.URL+"/"),
		chromedp.WaitVisible(css(`#username`)),
		chromedp.SendKeys(css(`#username`), "admin"),
		chromedp.SendKeys(css(`#password`), e.Password),
		chromedp.Click(css(`#login-submit`)),
		chromedp.WaitVisible(css(`#topbar`)),
		chromedp.Navigate(e.URL+"/#/users"),
		chromedp.WaitVisible(css(`td[data-lock="`+id+`"] button[data-unlock="`+id+`"]`)),
	)
	if txt := browsertest.Value(ctx, t, 10*time.Second, chromedp.Text(css(`td[data-lock="`+id+`"]`))); !bytes.Contains([]byte(txt), []byte("locked")) {
		t.Fatalf("Users page lock cell: %q", txt)
	}
	browsertest.Step(ctx, t, 30*time.Second,
		chromedp.Click(css(`button[data-unlock="`+id+`"]`)),
		chromedp.WaitVisible(css(`#users-notice:not(:empty)`)),
		chromedp.WaitNotPresent(css(`button[data-unlock="`+id+`"]`)),
	)
	// (The guesser's address stays slowed: that limit is the guesser's.)
	if st, _ := post(t, from("127.0.0.10"), e.URL+"/api/login", right); st != 200 {
		t.Fatalf("kim from elsewhere after the unlock: %d", st)
	}
	recs := auditRecords(t, admin, "user.unlocked")
	if len(recs) != 1 || recs[0].Actor != "user:admin" || recs[0].Target != id || recs[0].Details["username"] != "kim" ||
		recs[0].Details["was_locked"] != true {
		t.Fatalf("user.unlocked records: %+v", recs)
	}
	// An unknown account is 404; a non-admin may not unlock.
	if st, _ := admin.do("POST", "/api/users/none/unlock", nil, nil); st != 404 {
		t.Fatalf("unlock no account: %d", st)
	}
	kim := e.newClient(t)
	kim.http = home
	if st, _ := kim.do("POST", "/api/login", right, nil); st != 200 {
		t.Fatal("kim login")
	}
	if st, _ := kim.do("POST", "/api/users/"+id+"/unlock", nil, nil); st != 403 {
		t.Fatalf("technician unlocking: %d, want 403", st)
	}
}

// TestUsernamesCaseInsensitive: a username is one account in any case:
// created folded, refused again in another case, logged in with any case,
// and guessed at in any case against one counter.
func TestUsernamesCaseInsensitive(t *testing.T) {
	e, _ := startPatientBroker(t)
	admin := e.login(t, "admin", e.Password)
	var u struct{ ID, Username, Password string }
	if st, body := admin.do("POST", "/api/users", map[string]string{"username": "Dana", "role": "auditor"}, &u); st != 201 || u.Username != "dana" {
		t.Fatalf("create Dana: %d %s", st, body)
	}
	if st, body := admin.do("POST", "/api/users", map[string]string{"username": "DANA", "role": "admin"}, nil); st != 409 {
		t.Fatalf("create DANA next to dana: %d %s, want 409", st, body)
	}
	e.login(t, "DANA", u.Password)
	if st, _ := post(t, from("127.0.0.8"), e.URL+"/api/login", map[string]string{"username": "ADMIN", "password": e.Password}); st != 200 {
		t.Fatalf("ADMIN logs in as admin: %d", st)
	}
	c := from("127.0.0.9")
	var got []int
	for _, name := range []string{"dana", "DANA", "Dana", "dAna", "daNa", "danA", "DAna"} {
		st, _ := post(t, c, e.URL+"/api/login", map[string]string{"username": name, "password": "wrong"})
		got = append(got, st)
	}
	if fmt.Sprint(got) != fmt.Sprint([]int{401, 401, 401, 401, 401, 401, 429}) {
		t.Fatalf("wrong passwords in seven cases: %v, want six counted on one account, then a delay", got)
	}
}

// memory reads a process's resident set (VmRSS) and its peak (VmHWM) in
// bytes from /proc.
func memory(pid int) (rss, peak int64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[2] != "kB" {
			continue
		}
		v, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			rss = v << 10
		case "VmHWM:":
			peak = v << 10
		}
	}
	return rss, peak, nil
}

// TestLoginSprayBoundedMemory: sprays of logins for made-up users from
// many addresses (200 at once, then 1,000 at once) leave the real broker
// process under 500 MB and /healthz answering throughout: at most the
// configured number of argon2id hashes (64 MiB each) run at once, a few
// more wait, and the rest are answered 503 with Retry-After. (Without a
// bound, 50 such logins took a broker to 3.3 GB; the watchdog here kills
// the broker as soon as it passes the bound, so a regression cannot take
// the machine down with it.)
func TestLoginSprayBoundedMemory(t *testing.T) {
	const limit = 500 << 20
	p := startBrokerBinary(t, t.TempDir(), nil, "--password-hashes", "4")
	pid := p.cmd.Process.Pid
	_, base, err := memory(pid)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var watch sync.WaitGroup
	var (
		mu        sync.Mutex
		peakSeen  int64
		breached  bool
		healthz   int
		unhealthy []string
		slowest   time.Duration
	)
	watch.Add(2)
	go func() { // memory watchdog
		defer watch.Done()
		for {
			select {
			case <-done:
				return
			case <-time.After(10 * time.Millisecond):
			}
			rss, _, err := memory(pid)
			if err != nil {
				return
			}
			mu.Lock()
			peakSeen = max(peakSeen, rss)
			if rss > limit && !breached {
				breached = true
				_ = p.cmd.Process.Kill()
			}
			mu.Unlock()
		}
	}()
	go func() { // /healthz keeps answering
		defer watch.Done()
		c := &http.Client{Timeout: 10 * time.Second} // generous: the test process itself is busy spraying
		for {
			select {
			case <-done:
				return
			case <-time.After(50 * time.Millisecond):
			}
			start := time.Now()
			res, err := c.Get(p.URL + "/healthz")
			took := time.Since(start)
			mu.Lock()
			healthz++
			slowest = max(slowest, took)
			if err != nil {
				unhealthy = append(unhealthy, err.Error())
			} else {
				if res.StatusCode != 200 {
					unhealthy = append(unhealthy, res.Status)
				}
				res.Body.Close()
			}
			mu.Unlock()
		}
	}()
	spray := func(n, wave int) map[string]int {
		got := burst(t, n, func(i int) int {
			ip := fmt.Sprintf("127.%d.%d.%d", 20+wave, i/250, i%250+1)
			st, ra := post(t, from(ip), p.URL+"/api/login", map[string]string{"username": fmt.Sprintf("nobody-%d-%d", wave, i), "password": "guess"})
			if st == 503 && ra < 1 {
				t.Errorf("503 without Retry-After")
			}
			return st
		})
		out := map[string]int{}
		for st, k := range got {
			out[strconv.Itoa(st)] += k
		}
		return out
	}
	first := spray(200, 0)
	second := spray(1000, 1)
	close(done)
	watch.Wait()
	_, peak, err := memory(pid)
	if err != nil {
		t.Fatalf("broker gone after the spray (killed over %d MB? peak seen %d MB): %v", limit>>20, peakSeen>>20, err)
	}
	t.Logf("200 at once: %v; 1000 at once: %v; broker RSS peak %d MB (at start %d MB); /healthz %d times, slowest %v",
		first, second, peak>>20, base>>20, healthz, slowest)
	if breached || peak > limit {
		t.Fatalf("broker RSS peaked at %d MB, over %d MB", max(peak, peakSeen)>>20, limit>>20)
	}
	if len(unhealthy) > 0 || healthz < 2 {
		t.Fatalf("/healthz during the spray: %d polls, failures %v", healthz, unhealthy)
	}
	for _, got := range []map[string]int{first, second} {
		if got["401"] < 4 || got["401"]+got["503"] != sum(got) {
			t.Fatalf("answers %v: want 401 for those hashed and 503 for the rest, nothing else", got)
		}
	}
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}
