package secretbox

import "fmt"

// LoadKey returns a 32-byte key kept outside the database, for other uses
// than sealing (the audit log's signing key): from the environment
// variable env when lookupEnv finds it (standard base64), else from the
// file at path, which is created (0600, random, atomically) if it does not
// exist yet — created reports that. A key file group or others may read
// is refused (ErrKeyFileMode).
func LoadKey(env string, lookupEnv func(string) (string, bool), path string) (key []byte, created bool, err error) {
	if _, ok := lookupEnv(env); ok {
		key, err := ReadKey(env, lookupEnv, path)
		return key, false, err
	}
	return loadOrCreateKeyFile(path)
}

// ReadKey is LoadKey for a reader: it never creates the key file (a
// missing one is an error wrapping fs.ErrNotExist).
func ReadKey(env string, lookupEnv func(string) (string, bool), path string) ([]byte, error) {
	if v, ok := lookupEnv(env); ok {
		key, err := decodeKey(v)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", env, err)
		}
		return key, nil
	}
	return readKeyFile(path)
}
