package wine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"time"
)

// inProcess serialises cache builds within this process; flock serialises
// them between processes (parallel test binaries, the go test -exec wrapper).
var inProcess sync.Mutex

// lockCache takes the cache lock named name (a file in the cache dir) and
// returns its release. It waits for another holder, at most until ctx ends.
func lockCache(ctx context.Context, cache, name string) (func(), error) {
	if err := os.MkdirAll(cache, 0o755); err != nil {
		return nil, fmt.Errorf("wine: cache: %w", err)
	}
	inProcess.Lock()
	f, err := os.OpenFile(filepath.Join(cache, name+".lock"), os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		inProcess.Unlock()
		return nil, fmt.Errorf("wine: lock: %w", err)
	}
	// flock has no timeout, so poll without blocking until ctx ends.
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			break
		}
		select {
		case <-ctx.Done():
			err = ctx.Err()
		case <-time.After(100 * time.Millisecond):
			continue
		}
		break
	}
	if err != nil {
		f.Close()
		inProcess.Unlock()
		return nil, fmt.Errorf("wine: lock %s: %w", name, err)
	}
	// A build killed outright leaves its directory; nobody else can be
	// building this key while we hold the lock.
	if stale, _ := filepath.Glob(filepath.Join(cache, ".build-"+name+"-*")); len(stale) > 0 {
		for _, d := range stale {
			os.RemoveAll(d)
		}
	}
	return func() {
		f.Close() // releases the flock
		inProcess.Unlock()
	}, nil
}
