package listing

import (
	"context"
	"errors"
	"fmt"
	"math/rand"
	"slices"
	"strings"
	"sync"
	"testing"
)

// TestHashGroup checks the text a page's names share past their folder
// before their hashes, and the separator its group probe would use.
func TestHashGroup(t *testing.T) {
	for _, tc := range []struct {
		name, first, last, leaf string
		want                    string
		sep                     byte // 0: no group probe
	}{
		{"word", "fruit/mango-0d3e1c-81076.txt", "fruit/mango-0f7a90-12.txt", "fruit/", "fruit/mango-", '-'},
		{"word ending in hex letters", "fruit/cafe-12", "fruit/cafe-9a", "fruit/", "fruit/cafe-", '-'},
		{"underscore", "img/class07_0a1b", "img/class07_f00d", "img/", "img/class07_", '_'},
		{"dot", "train/cat.0a1b.jpg", "train/cat.ffee.jpg", "train/", "train/cat.", '.'},
		{"no separator", "fruit/user1a-0a", "fruit/user1b-ff", "fruit/", "fruit/user", 0},
		{"multi-byte word", "x/été-0a", "x/été-f1", "x/", "x/été-", '-'},
		{"parting inside a character", "x/word\u00e9-1", "x/word\u00e8-2", "x/", "x/word", 0},
		{"hashes from the folder on", "hot/0a1b", "hot/0f22", "hot/", "", 0},
		{"hex letters only", "fruit/beef12", "fruit/beef9a", "fruit/", "", 0},
		{"other folders", "a/b-1", "a/c-1", "a/", "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := hashGroup(tc.first, tc.last, tc.leaf)
			if g != tc.want {
				t.Fatalf("hashGroup = %q, want %q", g, tc.want)
			}
			if g == "" {
				return
			}
			sep, ok := groupSep(g)
			if ok != (tc.sep != 0) || sep != tc.sep {
				t.Errorf("groupSep(%q) = %q, %v; want %q", g, sep, ok, tc.sep)
			}
		})
	}
}

// TestNumberNames checks which samples of a page are a word's names
// numbered without leading zeros: only digits past the group and before
// the text they all end with, of more than one width.
func TestNumberNames(t *testing.T) {
	unpadded := []string{"images/birman_1.jpg", "images/birman_122.jpg", "images/birman_3.jpg", "images/birman_999.jpg"}
	for _, tc := range []struct {
		name  string
		names []string
		group string
		want  bool
	}{
		{"unpadded", unpadded, "images/birman_", true},
		{"padded: the counter's", []string{"p/obj-000010.dat", "p/obj-000035.dat", "p/obj-000060.dat"}, "p/obj-", false},
		{"a number then a hash", []string{"d/part-00001-ae25f562.parquet", "d/part-00002-0b13c4d1.parquet"}, "d/part-", false},
		{"hex", []string{"u/id-0a1b", "u/id-f00d"}, "u/id-", false},
		{"another group", []string{"images/birman_1.jpg", "images/bombay_2.jpg"}, "images/birman_", false},
		{"nothing past the group", []string{"x/a_.jpg", "x/a_.jpg"}, "x/a_", false},
		{"one name", unpadded[:1], "images/birman_", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if numbers, padded := numberNames(tc.names, tc.group); (numbers && !padded) != tc.want {
				t.Errorf("numberNames = %v, %v; want unpadded numbers %v", numbers, padded, tc.want)
			}
		})
	}
}

// TestGroupRest checks a range listing a group of hashes: the group's
// rest from its last page's extent, plus each group after it inside the
// range (from the group probe) at the group's size, and cuts that give
// each of those groups a range of its own.
func TestGroupRest(t *testing.T) {
	const g = "fruit/banana-"
	name := func(x uint32) string { return hashName(g, x) }
	groups := []string{"fruit/apple-", g, "fruit/cherry-", "fruit/kiwi-"}
	for _, tc := range []struct {
		name     string
		hi       string // "" for an open range
		probing  bool
		next     []string
		min, max float64 // the estimate
	}{
		// A page's extent is a 32nd of the group read in hexadecimal,
		// a 40th in the 17 bytes and the end of a name that positions
		// read: 40 pages a group, 26 after the page.
		{"open", "", false, []string{"fruit/cherry-", "fruit/kiwi-"}, 95, 115},
		{"bounded after a group", "fruit/kiwi-", false, []string{"fruit/cherry-"}, 60, 72},
		{"bounded inside the group", g + "c", false, nil, 14, 19},
		{"groups not known yet", "", true, nil, 23, 28},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := testLister()
			l.dirs[""] = &dirInfo{folders: []string{"fruit/"}, first: "fruit/", last: "fruit/"} // the root is fruit/
			l.dirs["fruit/"] = &dirInfo{upto: "fruit/apple-0fff", first: "fruit/apple-0000", last: "fruit/apple-0fff", alpha: []byte("-.0123456789abcdefilnpt")}
			l.groupSets["fruit/"] = &groupSet{probing: tc.probing, groups: groups}
			if tc.probing {
				l.groupSets["fruit/"].groups = nil
			}
			r := &krange{first: name(0x40000000), cursor: name(0x48000000), hi: tc.hi, open: tc.hi == "", pages: 1, seen: 1000,
				group: g, groupFrom: name(0x40000000), groupHashes: []byte("-0123456789abcdef")}
			est, trusted, sp := l.measure(r, l.alphabet())
			if sp == nil || sp.dir != g || !trusted || est < tc.min || est > tc.max || !slices.Equal(sp.next, tc.next) {
				t.Fatalf("estimate %.1f (trusted %v), span %+v; want %.0f-%.0f pages, trusted, groups after %q", est, trusted, sp, tc.min, tc.max, tc.next)
			}
			if tc.name != "open" {
				return
			}
			cuts := l.splitPoints(r, 8, sp)
			want := []string{g + maxRune, "fruit/cherry-", "fruit/kiwi-"}
			inside := 0
			for i, c := range cuts {
				if c <= r.cursor || i > 0 && c <= cuts[i-1] {
					t.Fatalf("cuts %q: not sorted past the cursor", cuts)
				}
				if strings.HasPrefix(c, g) && c < g+maxRune {
					inside++
				}
			}
			if inside == 0 || !slices.Equal(cuts[inside:], want) {
				t.Errorf("cuts %q; want some inside %s, then %q", cuts, g, want)
			}
		})
	}
}

// TestNeededGroupProbe checks which folder's groups are probed, with
// which delimiter: once a folder, for a group longer than the listing
// prefix, not for a text every name of another folder began with.
func TestNeededGroupProbe(t *testing.T) {
	// words: img/'s probe found two words (img/green_, img/red_).
	words := func(l *lister) { l.groupSets["img/"] = &groupSet{groups: []string{"img/green_", "img/red_"}} }
	// overBudget: words, and the probe budget spent (4 probes at 40 pages).
	overBudget := func(l *lister) {
		words(l)
		l.pages, l.planned = 40, 40
		l.discovery.Store(4)
	}
	for _, tc := range []struct {
		name   string
		prefix string
		group  string
		setup  func(l *lister)
		want   string // dir + separator, "" for none
	}{
		{"word", "", "fruit/apple-", nil, "fruit/-"},
		{"underscore", "img", "img/cls_", nil, "img/_"},
		{"probed", "", "fruit/apple-", func(l *lister) { l.groupSets["fruit/"] = &groupSet{probing: true} }, ""},
		{"lone text elsewhere", "", "dt=2/part-", func(l *lister) { l.loneGroups["part-"] = true }, ""},
		{"lone folder name elsewhere", "", "train/n02/n02_", func(l *lister) { l.loneGroups["/_"] = true }, ""},
		{"lone folder name, another separator", "", "train/n02/n02-", func(l *lister) { l.loneGroups["/_"] = true }, "train/n02/-"},
		{"a folder name that is not its own", "", "train/n02/n01_", func(l *lister) { l.loneGroups["/_"] = true }, "train/n02/_"},
		{"a probe out for a folder name", "", "train/n02/n02_", func(l *lister) { l.groupsAsked["/_"] = 1 }, ""},
		{"a probe out for a folder name, another separator", "", "train/n02/n02-", func(l *lister) { l.groupsAsked["/_"] = 1 }, "train/n02/-"},
		{"group within the prefix", "fruit/apple-", "fruit/apple-", nil, ""},
		{"no separator", "", "fruit/user", nil, ""},
		{"delimited listing", "", "fruit/apple-", func(l *lister) { l.opt.Delimiter = "/" }, ""},
		{"budget spent", "", "fruit/apple-", func(l *lister) { l.discovery.Store(8) }, ""},
		{"a group inside a found one", "", "img/red_apple_", words, "img/red__"},
		{"found", "", "img/red_apple_", func(l *lister) {
			words(l)
			l.groupSets["img/red_"] = &groupSet{groups: []string{"img/red_apple_", "img/red_fig_"}}
		}, ""},
		{"no group holds it", "", "img/blue_fig_", words, ""},
		{"one group is no level", "", "img/big_blue_fig_", func(l *lister) {
			l.groupSets["img/"] = &groupSet{groups: []string{"img/big_", "img/red_"}}
			l.groupSets["img/big_"] = &groupSet{groups: []string{"img/big_blue_"}}
		}, "img/big_blue__"},
		{"third level", "", "img/red_jelly_roll_", func(l *lister) {
			words(l)
			l.groupSets["img/red_"] = &groupSet{groups: []string{"img/red_apple_", "img/red_jelly_"}}
		}, ""},
		{"group probes over a sixteenth of pages", "", "img/red_apple_", overBudget, ""},
		{"over the budget, a word's labels listed one after another", "", "img/red_apple_", func(l *lister) {
			overBudget(l)
			l.ranges[1].first = "img/red_ant_1.jpg"
		}, "img/red__"},
		{"over the budget, the range's first label", "", "img/red_apple_", func(l *lister) {
			overBudget(l)
			l.ranges[1].first = "img/red_apple_1.jpg"
		}, ""},
		// S3's access logs (logs/2024-03-01-05-17-42-<hex>): every level
		// above the range's is probed at once, the folder first.
		{"numbered levels: the folder", "", "logs/2024-03-01-", nil, "logs/-"},
		{"numbered levels: the years, while the folder's probe is out", "", "logs/2024-03-01-", func(l *lister) {
			l.groupSets["logs/"] = &groupSet{probing: true}
		}, "logs/2024--"},
		{"numbered levels: the year's months", "", "logs/2024-03-01-", func(l *lister) {
			l.groupSets["logs/"] = &groupSet{probing: true}
			l.groupSets["logs/2024-"] = &groupSet{probing: true}
		}, "logs/2024-03--"},
		{"numbered levels: inside the prefix, the folder", "logs/2024-03-", "logs/2024-03-01-", nil, "logs/-"},
		{"numbered levels: inside the prefix, the folder probed", "logs/2024-03-", "logs/2024-03-01-", func(l *lister) {
			l.groupSets["logs/"] = &groupSet{probing: true}
		}, ""},
		{"numbered levels: a level past the prefix", "logs/2024-0", "logs/2024-03-01-", func(l *lister) {
			l.groupSets["logs/"] = &groupSet{probing: true}
		}, "logs/2024-03--"},
		{"numbered levels: the probe budget spent", "", "logs/2024-03-01-", func(l *lister) { l.discovery.Store(8) }, ""},
		{"numbered levels: all out", "", "logs/2024-03-01-", func(l *lister) {
			for _, at := range []string{"logs/", "logs/2024-", "logs/2024-03-"} {
				l.groupSets[at] = &groupSet{probing: true}
			}
		}, ""},
		{"numbered levels: all found", "", "logs/2024-03-01-", func(l *lister) {
			l.groupSets["logs/"] = &groupSet{groups: []string{"logs/2024-"}}
			l.groupSets["logs/2024-"] = &groupSet{groups: []string{"logs/2024-03-"}}
			l.groupSets["logs/2024-03-"] = &groupSet{groups: []string{"logs/2024-03-01-", "logs/2024-03-02-"}}
		}, ""},
		{"over the budget, a third level", "", "img/red_jelly_roll_", func(l *lister) {
			overBudget(l)
			l.groupSets["img/red_"] = &groupSet{groups: []string{"img/red_apple_", "img/red_jelly_"}}
			l.ranges[1].first = "img/red_apple_1.jpg"
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := testLister()
			l.prefix = tc.prefix
			l.ranges = []*krange{{done: true, group: "old/x-"}, {active: true, group: tc.group}}
			if tc.setup != nil {
				tc.setup(l)
			}
			got := ""
			if a, ok := l.neededGroupProbe(); ok {
				got = a.at + string(a.sep)
			}
			if got != tc.want {
				t.Errorf("group probe %q, want %q", got, tc.want)
			}
		})
	}
}

// TestNumberedLevels: the levels above a value of numbers parted by its
// separator, each of which a group probe lists.
func TestNumberedLevels(t *testing.T) {
	for _, tc := range []struct {
		group string
		want  []string
	}{
		{"logs/2024-03-01-", []string{"logs/", "logs/2024-", "logs/2024-03-"}},
		{"2024-03-", []string{"", "2024-"}},
		{"logs/2024-", nil},                // one number: its folder's probe lists it
		{"logs/2024-03-01-05-17-42-", nil}, // past maxNumberedLevels
		{"logs/web-2024-", nil},            // a word and one number
		{"logs/web-2024-03-", []string{"logs/", "logs/web-", "logs/web-2024-"}},
		{"cf/E2Q.2024-03-01-", []string{"cf/", "cf/E2Q.2024-", "cf/E2Q.2024-03-"}},
		{"logs/part-00042-", nil},                       // a word's counter
		{"logs/2024--01-", nil},                         // an empty field
		{"a/b/2024-03-", []string{"a/b/", "a/b/2024-"}}, // past its folder only
	} {
		t.Run(tc.group, func(t *testing.T) {
			if got := numberedLevels(tc.group, leafDir(tc.group), '-'); !slices.Equal(got, tc.want) {
				t.Errorf("numberedLevels(%q) = %q, want %q", tc.group, got, tc.want)
			}
		})
	}
}

// TestAssumeNumbered: a level of numbers no probe listed takes the groups
// of one probed as deep (April's days from March's), down every level;
// words and levels being probed are left alone.
func TestAssumeNumbered(t *testing.T) {
	l := testLister()
	l.groupSets["logs/"] = &groupSet{groups: []string{"logs/2023-", "logs/2024-", "logs/web-"}}
	l.groupSets["logs/2024-"] = &groupSet{groups: []string{"logs/2024-03-", "logs/2024-04-", "logs/2024-05-"}}
	l.groupSets["logs/2024-03-"] = &groupSet{groups: []string{"logs/2024-03-01-", "logs/2024-03-02-"}}
	l.groupSets["logs/2024-05-"] = &groupSet{probing: true}
	l.assumeNumbered("logs/", '-')
	for at, want := range map[string][]string{
		"logs/2024-04-": {"logs/2024-04-01-", "logs/2024-04-02-"},
		"logs/2023-":    {"logs/2023-03-", "logs/2023-04-", "logs/2023-05-"},
		"logs/2023-03-": {"logs/2023-03-01-", "logs/2023-03-02-"},
		"logs/2023-05-": {"logs/2023-05-01-", "logs/2023-05-02-"},
	} {
		gs := l.groupSets[at]
		if gs == nil || !gs.assumed || !slices.Equal(gs.groups, want) {
			t.Errorf("%s: %+v, want assumed %q", at, gs, want)
		}
	}
	if gs := l.groupSets["logs/2024-05-"]; !gs.probing || gs.assumed {
		t.Errorf("a level being probed: %+v", gs)
	}
	if gs := l.groupSets["logs/web-"]; gs != nil {
		t.Errorf("a word: %+v, want none", gs)
	}
	if gs := l.groupSets["logs/2024-03-"]; gs.assumed {
		t.Error("the probed level marked assumed")
	}
	// Found by their own probe, assumed levels are what a range waits on
	// no longer: April's first day is known.
	if at, ok := l.groupProbeFor("logs/2024-04-01-", "logs/2024-04-01-00-00-01-AB"); ok {
		t.Errorf("group probe of %q for an assumed day", at)
	}
	if got := len(l.groupSets); got != 9 {
		t.Errorf("%d group sets, want 9", got)
	}
}

// TestGroupsPending: a range in one value of a numbered field is measured
// once its levels' group probes answered, not on the value alone.
func TestGroupsPending(t *testing.T) {
	for _, tc := range []struct {
		name  string
		group string
		cols  bool
		setup func(l *lister)
		want  bool
	}{
		{"a probe due", "logs/2024-03-01-", true, nil, true},
		{"a level's probe out", "logs/2024-03-01-", true, func(l *lister) {
			l.groupSets["logs/"] = &groupSet{groups: []string{"logs/2024-"}}
			l.groupSets["logs/2024-"] = &groupSet{groups: []string{"logs/2024-03-"}}
			l.groupSets["logs/2024-03-"] = &groupSet{probing: true}
		}, true},
		{"answered", "logs/2024-03-01-", true, func(l *lister) {
			l.groupSets["logs/"] = &groupSet{groups: []string{"logs/2024-"}}
			l.groupSets["logs/2024-"] = &groupSet{groups: []string{"logs/2024-03-"}}
			l.groupSets["logs/2024-03-"] = &groupSet{groups: []string{"logs/2024-03-01-"}}
		}, false},
		{"an hour of timestamps, the folder's probe out", "ev/2024-01-01T00:", true, func(l *lister) {
			l.groupSets["ev/"] = &groupSet{probing: true}
		}, true},
		{"a word's group", "fruit/apple-", false, nil, false},
		{"the listing's prefix", "logs/2024-03-01-", true, func(l *lister) { l.prefix = "logs/2024-03-01-" }, false},
		{"inside the prefix, answered", "logs/2024-03-01-", true, func(l *lister) {
			l.prefix = "logs/2024-03-"
			l.groupSets["logs/"] = &groupSet{groups: []string{"logs/2024-03-01-", "logs/2024-03-02-"}}
		}, false},
		{"a delimited listing", "logs/2024-03-01-", true, func(l *lister) { l.opt.Delimiter = "/" }, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := testLister()
			if tc.setup != nil {
				tc.setup(l)
			}
			r := &krange{active: true, group: tc.group, groupCols: tc.cols, first: tc.group + "00"}
			if got := l.groupsPending(r); got != tc.want {
				t.Errorf("groupsPending = %v, want %v", got, tc.want)
			}
		})
	}
}

// TestGroupsOf: the groups of a folder are the finest its probes found,
// a group replaced by the groups inside it once probed.
func TestGroupsOf(t *testing.T) {
	l := testLister()
	if g, probing := l.groupsOf("img/"); g != nil || probing {
		t.Fatalf("unprobed folder: %q, %v", g, probing)
	}
	l.groupSets["img/"] = &groupSet{probing: true}
	if _, probing := l.groupsOf("img/"); !probing {
		t.Fatal("folder's probe out: not probing")
	}
	l.groupSets["img/"] = &groupSet{groups: []string{"img/big_", "img/green_", "img/red_"}}
	l.groupSets["img/big_"] = &groupSet{groups: []string{"img/big_blue_"}}
	l.groupSets["img/big_blue_"] = &groupSet{groups: []string{"img/big_blue_apple_", "img/big_blue_fig_"}}
	l.groupSets["img/green_"] = &groupSet{probing: true}
	l.groupSets["img/red_"] = &groupSet{} // names numbered right after the word
	want := []string{"img/big_blue_apple_", "img/big_blue_fig_", "img/green_", "img/red_"}
	if got, _ := l.groupsOf("img/"); !slices.Equal(got, want) {
		t.Errorf("groups %q, want %q", got, want)
	}
	if got := l.groupEnd("img/big_blue_fig_"); got != "img/big_blue_apple_"+maxRune {
		t.Errorf("groupEnd inside a group: %q", got)
	}
}

// TestWeighedGroups: a group no probe split counts as many groups as its
// split siblings hold on average (first words of two-word labels), and
// as one when no sibling was split into more than one.
func TestWeighedGroups(t *testing.T) {
	l := testLister()
	l.groupSets["img/"] = &groupSet{groups: []string{"img/big_", "img/fried_", "img/green_", "img/red_"}}
	l.groupSets["img/big_"] = &groupSet{groups: []string{"img/big_blue_"}} // one group: text goes on
	l.groupSets["img/big_blue_"] = &groupSet{groups: []string{"img/big_blue_apple_", "img/big_blue_cat_", "img/big_blue_fig_", "img/big_blue_owl_"}}
	l.groupSets["img/fried_"] = &groupSet{groups: []string{"img/fried_apple_", "img/fried_cat_"}}
	groups, weights, _ := l.weighedGroups("img/")
	want := []string{"img/big_blue_apple_", "img/big_blue_cat_", "img/big_blue_fig_", "img/big_blue_owl_", "img/fried_apple_", "img/fried_cat_", "img/green_", "img/red_"}
	if !slices.Equal(groups, want) || !slices.Equal(weights, []float64{1, 1, 1, 1, 1, 1, 3, 3}) {
		t.Errorf("groups %q weights %v; want %q and green_, red_ at 3 (6 labels in 2 first words)", groups, weights, want)
	}
	// Labels of one word each (fried_ holds one group): each counts one.
	l.groupSets["img/big_blue_"].groups = []string{"img/big_blue_apple_"}
	l.groupSets["img/fried_"].groups = []string{"img/fried_apple_"}
	if _, weights, _ := l.weighedGroups("img/"); !slices.Equal(weights, []float64{1, 1, 1, 1}) {
		t.Errorf("weights %v, want all 1", weights)
	}
	// Nothing split: the folder probe's groups, one each.
	l = testLister()
	l.groupSets["img/"] = &groupSet{groups: []string{"img/apple-", "img/banana-"}}
	if _, weights, _ := l.weighedGroups("img/"); !slices.Equal(weights, []float64{1, 1}) {
		t.Errorf("weights %v, want 1 1", weights)
	}
}

// TestRunGroupProbe checks what a group probe records: the folder's own
// groups (not a subfolder's, nor a prefix outside the listing), a folder's
// only group as a lone text, and a failure as the listing's.
func TestRunGroupProbe(t *testing.T) {
	refused := errors.New("refused")
	for _, tc := range []struct {
		name    string
		prefix  string
		folders []string
		err     error
		want    []string
		lone    string
	}{
		{"groups", "", []string{"fruit/apple-", "fruit/banana-", "fruit/sub/x-", "other/z-"}, nil, []string{"fruit/apple-", "fruit/banana-"}, ""},
		{"under a longer prefix", "fruit/b", []string{"fruit/banana-", "fruit/blue-"}, nil, []string{"fruit/banana-", "fruit/blue-"}, ""},
		{"one group", "", []string{"fruit/part-"}, nil, []string{"fruit/part-"}, "part-"},
		{"the folder's own name", "", []string{"fruit/fruit-"}, nil, []string{"fruit/fruit-"}, "/-"},
		{"refused", "", nil, refused, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			api := &probeAPI{folders: tc.folders, err: tc.err}
			l := testLister()
			l.prefix = tc.prefix
			l.ctx, l.cancel = context.WithCancel(context.Background())
			defer l.cancel()
			l.api, l.bucket, l.counter = api, "bkt", &Counter{}
			l.cond = sync.NewCond(&l.mu)
			l.mu.Lock()
			ok := l.runGroupProbe(groupAsk{at: "fruit/", sep: '-', text: "fruit-"})
			if len(l.groupsAsked) != 0 {
				t.Errorf("asked texts %v after the probe, want none", l.groupsAsked)
			}
			l.mu.Unlock()
			if want := max(tc.prefix, "fruit/"); len(api.prefixes) != 1 || api.prefixes[0] != want {
				t.Fatalf("listings of %q, want one of %q", api.prefixes, want)
			}
			if tc.err != nil {
				if ok || !errors.Is(l.err, tc.err) || l.ctx.Err() == nil {
					t.Fatalf("after a failed probe: ok %v, err %v, listing cancelled %v", ok, l.err, l.ctx.Err() != nil)
				}
				return
			}
			gs := l.groupSets["fruit/"]
			if !ok || gs == nil || gs.probing || !slices.Equal(gs.groups, tc.want) {
				t.Fatalf("ok %v, recorded %+v; want groups %q", ok, gs, tc.want)
			}
			if lone := len(l.loneGroups) == 1 && l.loneGroups[tc.lone]; lone != (tc.lone != "") || len(l.loneGroups) > 1 {
				t.Errorf("lone texts %v, want %q", l.loneGroups, tc.lone)
			}
			if l.discovery.Load() != 1 || l.counter.Requests.Load() != 1 {
				t.Errorf("counted %d discovery, %d requests; want 1, 1", l.discovery.Load(), l.counter.Requests.Load())
			}
		})
	}
}

// TestNumberedField: which texts shared by a page's names are one value of
// a numbered field, whose values a probe with their separator lists.
func TestNumberedField(t *testing.T) {
	for _, tc := range []struct {
		name  string
		group string
		names []string
		want  bool
	}{
		{"an hour of timestamps", "events/2024-01-01T00:", []string{"events/2024-01-01T00:00:01.500Z-3f.json", "events/2024-01-01T00:24:58.500Z-0a.json"}, true},
		{"numbers parted by the separator", "logs/2024-03-01-05-", []string{"logs/2024-03-01-05-00-17-AB", "logs/2024-03-01-05-59-40-CD"}, true},
		{"a word, then numbers parted by the separator", "logs/web-2024-03-", []string{"logs/web-2024-03-01-AB", "logs/web-2024-03-09-CD"}, true},
		{"a word, then one number", "logs/web-2024-", []string{"logs/web-2024-01-AB", "logs/web-2024-02-CD"}, false},
		{"CloudFront's distribution, then the date", "cf/E2Q.2024-03-01-", []string{"cf/E2Q.2024-03-01-05.a1b2.gz", "cf/E2Q.2024-03-01-09.c3d4.gz"}, true},
		{"numbers, then a word", "logs/2024-x1-", []string{"logs/2024-x1-01", "logs/2024-x1-02"}, false},
		{"a word's counter", "dt=1/part-", []string{"dt=1/part-00000-ab.parquet", "dt=1/part-00999-cd.parquet"}, false},
		{"no digit after it", "events/2024-01-01T00:", []string{"events/2024-01-01T00:x", "events/2024-01-01T00:y"}, false},
		{"no separator", "img/cat7", []string{"img/cat70", "img/cat71"}, false},
		{"nothing past the folder", "a/7:", []string{"a/7:1", "a/7:2"}, true},
		{"the folder's own text", "a/:", []string{"a/:1", "a/:2"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := numberedField(tc.names, tc.group, leafDir(tc.group)); got != tc.want {
				t.Errorf("numberedField(%q) = %v, want %v", tc.group, got, tc.want)
			}
		})
	}
}

// TestPaddedNames checks which samples of a page are a word's zero-padded
// numbers: digits only, all names of one width.
func TestPaddedNames(t *testing.T) {
	for _, tc := range []struct {
		name  string
		names []string
		group string
		want  bool
	}{
		{"padded", []string{"images/birman_00001.jpg", "images/birman_00026.jpg", "images/birman_00051.jpg"}, "images/birman_", true},
		{"the counter's", []string{"p/obj-000010.dat", "p/obj-000035.dat", "p/obj-000060.dat"}, "p/obj-", true},
		{"unpadded", []string{"images/birman_1.jpg", "images/birman_122.jpg"}, "images/birman_", false},
		{"a number then a hash", []string{"d/part-00001-ae25f562.parquet", "d/part-00002-0b13c4d1.parquet"}, "d/part-", false},
		{"hex", []string{"u/id-0a1b", "u/id-f00d"}, "u/id-", false},
		{"another group", []string{"images/birman_00001.jpg", "images/bombay_00002.jpg"}, "images/birman_", false},
		{"one name", []string{"images/birman_00001.jpg"}, "images/birman_", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if numbers, padded := numberNames(tc.names, tc.group); (numbers && padded) != tc.want {
				t.Errorf("numberNames = %v, %v; want padded numbers %v", numbers, padded, tc.want)
			}
		})
	}
}

// TestPadRest checks a range whose last page lay in a word's zero-padded
// counter, in a folder a group probe found to hold other words: the word
// is not galloped on past its end; each word after it inside the range
// is a piece of its own, as large as the counter ran so far, and a cut at
// a word moves to the end of the word before (see groupEnd).
func TestPadRest(t *testing.T) {
	l := &lister{groupSets: map[string]*groupSet{
		"images/": {groups: []string{"images/abyssinian_", "images/american_", "images/beagle_", "images/birman_"}},
	}}
	r := &krange{
		first: "images/abyssinian_00001.jpg", start: "images/", cursor: "images/american_bulldog_01000.jpg",
		prev: "images/abyssinian_01000.jpg", seen: 2000, pages: 2, hi: "images/birman_", open: false,
		padGroup: "images/american_bulldog_", padFrom: "images/american_bulldog_00001.jpg",
	}
	est, sp, wait, ok := l.padRest(r)
	if !ok || wait {
		t.Fatalf("padRest: ok %v wait %v", ok, wait)
	}
	if sp.dense != 1 || sp.each != 1 || !slices.Equal(sp.next, []string{"images/beagle_"}) || est != 2 {
		t.Errorf("est %v, span %+v", est, sp)
	}
	if e := l.groupEnd("images/beagle_"); e != "images/american_"+maxRune {
		t.Errorf("groupEnd = %q", e)
	}
	// A first word no probe split, beside one split into three labels:
	// beagle_ is taken to hold three words as large as the range's.
	l.groupSets["images/abyssinian_"] = &groupSet{groups: []string{"images/abyssinian_a_", "images/abyssinian_b_", "images/abyssinian_c_"}}
	if est, sp, _, _ := l.padRest(r); est != 4 || sp.ahead != 3 {
		t.Errorf("beside split words: est %v, ahead %v; want 4 and 3", est, sp.ahead)
	}
	delete(l.groupSets, "images/abyssinian_")
	// Alone in its folder as far as the range knows: no group probe.
	if !r.otherWords() {
		t.Errorf("otherWords: the range listed another word first")
	}
	alone := &krange{start: "p47/", first: "p47/obj-000000.dat", cursor: "p47/obj-001999.dat", padGroup: "p47/obj-"}
	if alone.otherWords() {
		t.Errorf("otherWords: p47/obj- alone")
	}
	// The probe still out: wait for it.
	l.groupSets["images/"].probing = true
	if _, _, wait, _ := l.padRest(r); !wait {
		t.Errorf("padRest did not wait for the group probe")
	}
}

// TestReadPage checks what a full page's names are read as: hashes past
// their folder, a group of names (a word before hashes or numbers), a
// word's zero-padded counter, or nothing. A word spelt in hexadecimal
// letters (facade-<hex>) is a group, not hashes from the folder on: read
// so, the range's rest was interpolated over hexadecimal from facade- to
// naive- as 50 M pages.
func TestReadPage(t *testing.T) {
	page := func(name func(i int) string) []Entry {
		e := make([]Entry, MaxKeys)
		for i := range e {
			e[i].Key = name(i)
		}
		slices.SortFunc(e, func(a, b Entry) int { return strings.Compare(a.Key, b.Key) })
		return e
	}
	r := rand.New(rand.NewSource(1))
	hex := func(_, n int) string { // n random hexadecimal digits
		b := make([]byte, n)
		for i := range b {
			b[i] = "0123456789abcdef"[r.Intn(16)]
		}
		return string(b)
	}
	for _, tc := range []struct {
		name     string
		entries  []Entry
		hashes   bool
		group    string
		groupHex string // the group's bytes, when a group
		padGroup string
	}{
		{"hashes", page(func(i int) string { return "hot/" + hex(i, 12) }), true, "", "", ""},
		{"word of hex letters", page(func(i int) string { return fmt.Sprintf("data/x/facade-%s-%05d.txt", hex(i, 6), i*37%100000) }),
			false, "data/x/facade-", "0123456789abcdef", ""},
		{"word", page(func(i int) string { return "fruit/mango-" + hex(i, 8) + ".txt" }), false, "fruit/mango-", "0123456789abcdef", ""},
		{"numbered word", page(func(i int) string { return fmt.Sprintf("img/cat_%d.jpg", i+1) }), false, "img/cat_", "0123456789", ""},
		{"padded word", page(func(i int) string { return fmt.Sprintf("img/cat_%05d.jpg", i) }), false, "", "", "img/cat_"},
		{"timestamps", page(func(i int) string {
			return fmt.Sprintf("events/2024-01-01T00:%02d:%02d.%03dZ-%s.json", i*3/2/60, i*3/2%60, i%2*500, hex(i, 6))
		}), false, "events/2024-01-01T00:", "0123456789", ""},
		{"a word's counter", page(func(i int) string { return fmt.Sprintf("dt=1/part-%05d-%s.parquet", i, hex(i, 8)) }), false, "", "", ""},
		{"two folders", page(func(i int) string { return fmt.Sprintf("d%d/%s", i/500, hex(i, 12)) }), false, "", "", ""},
		{"short page", page(func(i int) string { return "hot/" + hex(i, 12) })[:1], false, "", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pr := readPage(tc.entries)
			if (pr.hashes != nil) != tc.hashes {
				t.Errorf("hashes = %q, want hashes %v", pr.hashes, tc.hashes)
			}
			if pr.group != tc.group || string(pr.groupHashes) != tc.groupHex {
				t.Errorf("group = %q in %q, want %q in %q", pr.group, pr.groupHashes, tc.group, tc.groupHex)
			}
			if pr.padGroup != tc.padGroup {
				t.Errorf("padGroup = %q, want %q", pr.padGroup, tc.padGroup)
			}
		})
	}
}
