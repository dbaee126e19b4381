package wine

import (
	"context"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
)

// templateRecipe is part of the template's cache key: bump it when the way
// a template is made changes, so old ones are not reused.
const templateRecipe = "r3"

// template returns a pristine prefix made by `wineboot -i` for the installed
// Wine, kept in the cache. No program ever runs in it after wineboot: runs
// get a clone (see clonePrefix). The first call on a machine takes ~12 s.
func template(ctx context.Context) (string, error) {
	out, err := exec.CommandContext(ctx, wineBin, "--version").Output()
	if err != nil {
		return "", fmt.Errorf("%w: wine --version: %v", ErrNotInstalled, err)
	}
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	key := "wine-prefix-" + sanitize(strings.TrimSpace(string(out))) + "-" + templateRecipe
	dst := filepath.Join(cache, key)
	if ready(dst) {
		return dst, nil
	}
	unlock, err := lockCache(ctx, cache, key)
	if err != nil {
		return "", err
	}
	defer unlock()
	if ready(dst) { // made while we waited for the lock
		return dst, nil
	}
	work, err := os.MkdirTemp(cache, ".build-"+key+"-")
	if err != nil {
		return "", fmt.Errorf("wine: template: %w", err)
	}
	defer os.RemoveAll(work)
	prefix, home := filepath.Join(work, "prefix"), filepath.Join(work, "home")
	if err := os.Mkdir(home, 0o700); err != nil {
		return "", fmt.Errorf("wine: template: %w", err)
	}
	e := env(prefix, home, "")
	if err := run(ctx, e, wineBin, "wineboot", "-i"); err != nil {
		_ = run(context.Background(), e, wineserverBin, "-k")
		return "", fmt.Errorf("wine: make template prefix: %w", err)
	}
	// Without a window manager (bare Xvfb), Wine waits 2 s for one to
	// acknowledge every window it hides (each answered dialog); unmanaged
	// windows skip that. xdotool finds and focuses them all the same.
	// UseTakeFocus=N: Wine then activates a window when X gives it the focus
	// (xdotool windowfocus), as a click would on a desktop; by default it
	// waits for a window manager's WM_TAKE_FOCUS, so a window that did not
	// activate itself when shown (the session indicator) never got keys.
	for _, v := range [][2]string{{"Managed", "N"}, {"UseTakeFocus", "N"}} {
		if err := run(ctx, e, wineBin, "reg", "add", `HKCU\Software\Wine\X11 Driver`,
			"/v", v[0], "/d", v[1], "/f"); err != nil {
			_ = run(context.Background(), e, wineserverBin, "-k")
			return "", fmt.Errorf("wine: make template prefix: %w", err)
		}
	}
	// wineboot returns before the server has written the registry out.
	if err := run(ctx, e, wineserverBin, "-w"); err != nil {
		return "", fmt.Errorf("wine: make template prefix: %w", err)
	}
	if err := unlinkProfile(prefix); err != nil {
		return "", fmt.Errorf("wine: make template prefix: %w", err)
	}
	if err := os.WriteFile(filepath.Join(prefix, readyMark), []byte(key+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("wine: make template prefix: %w", err)
	}
	if err := publish(prefix, dst); err != nil {
		return "", fmt.Errorf("wine: make template prefix: %w", err)
	}
	return dst, nil
}

// readyMark is written last into a finished template; a directory without
// it is not one.
const readyMark = ".porthole-template"

func ready(dir string) bool {
	_, err := os.Stat(filepath.Join(dir, readyMark))
	return err == nil
}

var unsafeChars = regexp.MustCompile(`[^A-Za-z0-9.+-]+`)

func sanitize(s string) string { return unsafeChars.ReplaceAllString(s, "_") }

// unlinkProfile replaces the user profile's links to the Unix home
// (Desktop, Documents, … → $HOME, which wineboot makes) with empty
// directories, so a program under test never writes outside its prefix.
func unlinkProfile(prefix string) error {
	users, err := filepath.Glob(filepath.Join(prefix, "drive_c", "users", "*", "*"))
	if err != nil {
		return err
	}
	for _, p := range users {
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			continue
		}
		if err := os.Remove(p); err != nil {
			return err
		}
		if err := os.Mkdir(p, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// shared tells which template files a clone may hard-link instead of copy:
// the Windows binaries under drive_c/windows (630 of a prefix's 695 MB),
// which nothing rewrites in place. Everything else — the registry, ini
// files, the profile — is copied, so a run changes only its own prefix.
func shared(rel string) bool {
	if !strings.HasPrefix(rel, "drive_c/windows/") {
		return false
	}
	switch strings.ToLower(filepath.Ext(rel)) {
	case ".dll", ".exe", ".sys", ".drv":
		return true
	}
	return false
}

// clonePrefix makes dst (which must not exist) a copy of the template src.
func clonePrefix(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		if rel == readyMark {
			return nil
		}
		to := filepath.Join(dst, rel)
		switch t := d.Type(); {
		case d.IsDir():
			fi, err := d.Info()
			if err != nil {
				return err
			}
			return os.Mkdir(to, fi.Mode().Perm())
		case t&fs.ModeSymlink != 0:
			target, err := os.Readlink(path)
			if err != nil {
				return err
			}
			return os.Symlink(target, to)
		case t.IsRegular():
			if shared(filepath.ToSlash(rel)) && os.Link(path, to) == nil {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				return err
			}
			return copyFile(path, to, fi.Mode().Perm())
		}
		return nil // a prefix holds no devices, sockets or pipes
	})
}
