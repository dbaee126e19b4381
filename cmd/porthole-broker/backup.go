package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"porthole/broker/backup"
	"porthole/broker/secretbox"
	"porthole/internal/cli"
)

// passphrase reads the backup passphrase from file, else from
// $PORTHOLE_BACKUP_PASSPHRASE; "" means none. Never a flag's value.
func passphrase(file string) (string, error) {
	if file == "" {
		return os.Getenv("PORTHOLE_BACKUP_PASSPHRASE"), nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return "", fmt.Errorf("passphrase: %w", err)
	}
	p := strings.TrimRight(string(b), "\r\n")
	if p == "" {
		return "", errors.New("passphrase file is empty")
	}
	return p, nil
}

func backupCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("backup", flag.ContinueOnError)
	dataDir := fs.String("data-dir", defaultDataDir(), "broker data directory (the broker may be running)")
	to := fs.String("to", "", "backup file to write (must not exist)")
	passFile := fs.String("passphrase-file", "", "encrypt with the passphrase in this file (else $PORTHOLE_BACKUP_PASSPHRASE; none: unencrypted)")
	if err := cli.Parse(fs, args, ""); err != nil {
		return err
	}
	if *to == "" {
		return errors.New("--to is required")
	}
	pass, err := passphrase(*passFile)
	if err != nil {
		return err
	}
	out, err := os.OpenFile(*to, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	res, err := backup.Create(ctx, *dataDir, out, backup.Options{Passphrase: pass})
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(*to)
		return err
	}
	fmt.Printf("Backup written to %s: %d files, audit chain verified (%d records, head %d).\n", *to, len(res.Manifest.Files),
		res.Verified, res.Manifest.AuditSeq)
	if _, env := os.LookupEnv(secretbox.EnvKey); env {
		fmt.Fprintf(os.Stderr, "WARNING: the secret key comes from $%s and is NOT in the backup; keep it with the backup, "+
			"or TOTP secrets cannot be read after a restore.\n", secretbox.EnvKey)
	}
	if !res.Encrypted {
		fmt.Fprintln(os.Stderr, "WARNING: this backup is NOT encrypted and holds the broker's secret key next to the data it protects "+
			"(TOTP seeds): keep it like a password, or use --passphrase-file.")
	}
	fmt.Fprintln(os.Stderr, "Note: recordings are not in the backup; back up the recordings directory or bucket separately.")
	return nil
}

func restoreCmd(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("restore", flag.ContinueOnError)
	from := fs.String("from", "", "backup file to restore")
	dataDir := fs.String("data-dir", "", "data directory to restore into (created if missing; must be empty unless --force)")
	force := fs.Bool("force", false, "replace the broker state in a data dir that is not empty (stop the broker first)")
	passFile := fs.String("passphrase-file", "", "passphrase of an encrypted backup (else $PORTHOLE_BACKUP_PASSPHRASE)")
	if err := cli.Parse(fs, args, ""); err != nil {
		return err
	}
	if *from == "" || *dataDir == "" {
		return errors.New("--from and --data-dir are required")
	}
	pass, err := passphrase(*passFile)
	if err != nil {
		return err
	}
	in, err := os.Open(*from)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	defer in.Close()
	res, err := backup.Restore(ctx, in, *dataDir, backup.Options{Passphrase: pass, Force: *force})
	if err != nil {
		return err
	}
	abs, _ := filepath.Abs(*dataDir)
	fmt.Printf("Restored %d files into %s (backup of %s, schema %d).\nAudit chain verified: %d records, head %d %s.\n",
		len(res.Manifest.Files), abs, res.Manifest.CreatedAt.Format("2006-01-02 15:04:05Z"), res.Manifest.Schema, res.Verified,
		res.Manifest.AuditSeq, res.Manifest.AuditHash)
	return nil
}
