package tarindex

import (
	"fmt"
	"maps"
	"strings"
	"testing"
)

// paxGlobal is a PAX global header's bytes: its header block (only the
// size field matters here) and its records, padded to a block.
func paxGlobal(records ...string) []byte {
	var data strings.Builder
	for _, r := range records {
		n := len(r) + 2 // a space and a newline
		for len(fmt.Sprint(n+len(fmt.Sprint(n)))) != len(fmt.Sprint(n)) {
			n++
		}
		n += len(fmt.Sprint(n))
		fmt.Fprintf(&data, "%d %s\n", n, r)
	}
	block := make([]byte, blockSize)
	copy(block[124:], fmt.Sprintf("%011o\x00", data.Len()))
	out := append(block, data.String()...)
	for len(out)%blockSize != 0 {
		out = append(out, 0)
	}
	return out
}

// TestGlobalRecords: the records of a PAX global header archive/tar drops
// (one does not parse as its field) are read back from its bytes.
func TestGlobalRecords(t *testing.T) {
	for _, tc := range []struct {
		name  string
		entry []byte
		want  map[string]string
	}{
		{"one", paxGlobal("mtime=garbage"), map[string]string{"mtime": "garbage"}},
		{"several", paxGlobal("mtime=garbage", "path=renamed", "comment=a=b"),
			map[string]string{"mtime": "garbage", "path": "renamed", "comment": "a=b"}},
		{"empty value", paxGlobal("path="), map[string]string{"path": ""}},
		{"cut short", paxGlobal("mtime=garbage")[:blockSize+5], nil},
		{"no header", []byte("short"), nil},
		{"a bad length stops", append(paxGlobal("mtime=1")[:blockSize], []byte("99 x=y\n")...), nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := globalRecords(tc.entry)
			if len(tc.want) == 0 && len(got) == 0 {
				return
			}
			if !maps.Equal(got, tc.want) {
				t.Errorf("globalRecords = %v, want %v", got, tc.want)
			}
		})
	}
}
