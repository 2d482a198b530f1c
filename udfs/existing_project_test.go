package udfs

import (
	"bufio"
	"compress/gzip"
	"encoding/json"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flinkfn/flinkfn/fnharness/fn"
)

// existingProject is a PyFlink team's own project (its functions, rows and
// templates file), see integration/pyflink/test_existing_project.py.
var existingProject = filepath.Join("..", "integration", "pyflink", "existing_project")

// Column types of the team's tables (job.py); every other column is STRING.
var existingProjectTypes = map[string]string{
	"balance": "DECIMAL(12, 2)", "amount": "DECIMAL(12, 2)", "fx_rate": "DECIMAL(18, 8)",
	"opened_at": "TIMESTAMP(3)", "booked_at": "TIMESTAMP(3)", "active": "BOOLEAN",
}

// flinkValue is what Flink's JSON format and row coder deliver for a JSON
// field of the column's type.
func flinkValue(t *testing.T, col string, raw json.RawMessage) fn.Value {
	t.Helper()
	if len(raw) == 0 || string(raw) == "null" {
		return fn.Null()
	}
	switch existingProjectTypes[col] {
	case "BOOLEAN":
		var b bool
		if err := json.Unmarshal(raw, &b); err != nil {
			t.Fatal(err)
		}
		return fn.Bool(b)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		t.Fatalf("%s: %v", col, err)
	}
	switch existingProjectTypes[col] {
	case "DECIMAL(12, 2)", "DECIMAL(18, 8)":
		scale := 2
		if col == "fx_rate" {
			scale = 8
		}
		u, sc, err := fn.ParseDecimal(s)
		if err != nil || sc > scale {
			t.Fatalf("%s %q: %v", col, s, err)
		}
		u.Mul(u, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(scale-sc)), nil))
		return fn.DecimalOf(u, scale)
	case "TIMESTAMP(3)":
		layout := "2006-01-02 15:04:05"
		if strings.Contains(s, ".") {
			layout += "." + strings.Repeat("0", len(s)-strings.IndexByte(s, '.')-1)
		}
		ts, err := time.Parse(layout, s)
		if err != nil {
			t.Fatal(err)
		}
		return fn.TimestampOf(ts)
	}
	return fn.Str(s)
}

// The team's templates.json renders, byte for byte, the texts the team's
// own Python functions built (scripts/fixtures/gen_existing_project_fixture.py ran
// them on the same rows): Python's str() of each value, "None" for NULL.
func TestExistingProjectTemplatesRenderTheTeamsTexts(t *testing.T) {
	p := filepath.Join(existingProject, "templates.json")
	tpls, err := LoadTemplates(p, "")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*Template{}
	for _, tp := range tpls {
		byName[tp.Name] = tp
	}
	texts := map[string]string{}
	f, err := os.Open(filepath.Join(existingProject, "expected.jsonl.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(gz)
	sc.Buffer(nil, 1<<22)
	for sc.Scan() {
		var e struct{ Table, Key, Text string }
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			t.Fatal(err)
		}
		texts[e.Table+"/"+e.Key] = e.Text
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	n, fractions, nulls := 0, 0, 0
	for _, tb := range []struct{ table, file, key, fn string }{
		{"ah", "accountholders.jsonl", "account_id", "ah_embed"},
		{"txn", "transactions.jsonl", "txn_id", "txn_embed"},
	} {
		tp := byName[tb.fn]
		data, err := os.ReadFile(filepath.Join(existingProject, "data", tb.file))
		if err != nil {
			t.Fatal(err)
		}
		for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
			var row map[string]json.RawMessage
			if err := json.Unmarshal([]byte(line), &row); err != nil {
				t.Fatal(err)
			}
			var key string
			_ = json.Unmarshal(row[tb.key], &key)
			vals := make([]fn.Value, len(tp.Columns))
			for i, c := range tp.Columns {
				vals[i] = flinkValue(t, c, row[c])
				if vals[i].IsNull() {
					nulls++
				}
				if vals[i].Kind() == fn.KindTimestamp && vals[i].GoTime().Nanosecond() != 0 {
					fractions++
				}
			}
			want, ok := texts[tb.table+"/"+key]
			if !ok {
				t.Fatalf("no expected text for %s %s", tb.table, key)
			}
			got, kept, err := tp.Render(vals)
			if err != nil || !kept || got != want {
				t.Errorf("%s %s:\n python %q\n go     %q (kept=%v err=%v)", tb.fn, key, want, got, kept, err)
			}
			n++
		}
	}
	if n != len(texts) || n < 100 || fractions < 40 || nulls < 60 {
		t.Fatalf("%d rows (%d expected texts), %d timestamps with fractions, %d NULLs: the fixture lost its edge cases",
			n, len(texts), fractions, nulls)
	}
}
