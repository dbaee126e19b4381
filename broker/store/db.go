package store

import "database/sql"

// DB hands the database to packages that keep their own tables in it
// (broker/mfa/mfasql), so their queries run on the migrated schema and the
// one connection without store depending on them.
func (s *Store) DB() *sql.DB { return s.db }
