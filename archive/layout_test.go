package archive_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestSQLStaysInArchive: the product's SQL is written under archive/ only.
// A package elsewhere that imported database/sql or the PostgreSQL driver
// would be deciding on its own what the archive holds (tests may, to check
// what was written, and internal/pgtest gives them a throwaway database).
func TestSQLStaysInArchive(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if d.IsDir() {
			if rel == "archive" || rel == filepath.Join("internal", "pgtest") || strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			if path == "database/sql" || strings.HasPrefix(path, "github.com/lib/pq") {
				t.Errorf("%s imports %s: SQL belongs in a package under archive/ (ingest, query, retention, register)", rel, path)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
