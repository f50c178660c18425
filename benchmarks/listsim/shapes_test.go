package main

import (
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"math/rand"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/s3turbo/s3turbo/benchmarks/internal/layouts"
	"github.com/s3turbo/s3turbo/go/listing"
)

// wordFolderNames are 200 000 names in 7 folders named by words[:7] under
// root, each <word>-<6 hex>-<n>.txt with a word drawn from words and the
// hex from uuid.
func wordFolderNames(r *rand.Rand, uuid func(*rand.Rand) string, root string, words []string) []string {
	var k []string
	for i := 0; i < 200_000; i++ {
		k = append(k, fmt.Sprintf("%s%s/%s-%s-%05d.txt", root, words[i%7], words[r.Intn(len(words))], uuid(r)[:6], i))
	}
	return k
}

// shapes generates bucket shapes the benchmark's four layouts do not have,
// by name, for TestVirtualShapes and TestVirtualSurvey: numbered folders
// and names, UUIDs and hashes under long paths or with extensions,
// timestamps, CloudTrail's and ImageNet's layouts, a few huge folders
// among many tiny ones. Keys come back sorted, without duplicates.
func shapeKeys(name string) []string {
	gen, ok := shapes()[name]
	if !ok {
		panic("no shape " + name)
	}
	k := gen()
	slices.Sort(k)
	return slices.Compact(k)
}

func shapes() map[string]func() []string {
	rng := func() *rand.Rand { return rand.New(rand.NewSource(7)) }
	uuid := func(r *rand.Rand) string {
		b := make([]byte, 16)
		r.Read(b)
		h := hex.EncodeToString(b)
		return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
	}
	return map[string]func() []string{
		"logs7":     func() []string { return numberedNames("logs/%07d.json", 0, 100_000) },
		"logsnoext": func() []string { return numberedNames("logs/%07d", 0, 100_000) },
		"uuidroot":  func() []string { return uuidNames(rng(), uuid, 200_000, "", ".json") },
		"uuiddirs":  func() []string { return uuidNames(rng(), uuid, 200_000, "blobs/", "") },
		"uuidext":   func() []string { return uuidNames(rng(), uuid, 200_000, "blobs/", ".jpg") },
		"uuid1m":    func() []string { return uuidNames(rng(), uuid, 1_000_000, "blobs/", ".jpg") },
		"hotext": func() []string {
			r := rng()
			var k []string
			for i := 0; i < 180_000; i++ {
				k = append(k, "hot/"+uuid(r)+".bin")
			}
			for p := 0; p < 50; p++ {
				for i := 0; i < 400; i++ {
					k = append(k, fmt.Sprintf("p%02d/obj-%06d.dat", p, i))
				}
			}
			return k
		},
		"unicode": func() []string { // multi-byte names: positions and cuts must stay valid UTF-8
			return wordFolderNames(rng(), uuid, "données/", []string{"été", "über", "日本語", "данные", "ñandú", "😀", "naïve", "東京", "Ωmega", "façade"})
		},
		"catsdogs": func() []string { // Kaggle's dogs vs cats: unpadded numbers after a word
			var k []string
			for i := 0; i < 100_000; i++ {
				k = append(k, fmt.Sprintf("train/cat.%d.jpg", i), fmt.Sprintf("train/dog.%d.jpg", i))
			}
			return k
		},
		"wordfolders": func() []string { // unicode's shape in ASCII
			return wordFolderNames(rng(), uuid, "data/", []string{"ete", "uber", "nihongo", "dannye", "nandu", "smile", "naive", "tokyo", "omega", "facade"})
		},
		"words": func() []string { // ASCII words before random hex: unicode's shape without multi-byte bytes
			r := rng()
			words := []string{"apple", "banana", "cherry", "grape", "lemon", "mango", "peach", "plum", "kiwi", "lime"}
			var k []string
			for i := 0; i < 200_000; i++ {
				k = append(k, fmt.Sprintf("fruit/%s-%s-%05d.txt", words[r.Intn(len(words))], uuid(r)[:6], i))
			}
			return k
		},
		"classes": func() []string { // word_<hex> names, 40 words of very unequal sizes (Zipf)
			r := rng()
			var k []string
			for c := 0; c < 40; c++ {
				for i := 0; i < 60_000/(c+1); i++ {
					k = append(k, fmt.Sprintf("images/class%02dx_%s.jpg", c, uuid(r)[:12]))
				}
			}
			return k
		},
		"coldtail": func() []string { // a folder of hashes, then 20 folders of 15 pages of numbered names
			var k []string
			for i := 0; i < 200_000; i++ {
				s := md5.Sum([]byte(fmt.Sprint(i)))
				k = append(k, "hot/"+hex.EncodeToString(s[:]))
			}
			for d := 0; d < 20; d++ {
				for i := 0; i < 15_000; i++ {
					k = append(k, fmt.Sprintf("p%02d/obj-%06d.dat", d, i))
				}
			}
			return k
		},
		"uuidparts": func() []string { // part-<uuid> in every partition: one group per folder
			r := rng()
			var k []string
			for d := 0; d < 100; d++ {
				for i := 0; i < 2000; i++ {
					k = append(k, fmt.Sprintf("events/dt=2024-%03d/part-%s.parquet", d, uuid(r)))
				}
			}
			return k
		},
		"root7":    func() []string { return numberedNames("%07d.json", 0, 100_000) },
		"unpadded": func() []string { return numberedNames("img/%d.jpg", 0, 200_000) },
		// Video frames numbered from 1, unpadded: 300 000 needs six digits,
		// and names starting 3..9 have five at most.
		"frames":     func() []string { return numberedNames("frames/frame_%d.png", 1, 300_001) },
		"unpadded1m": func() []string { return numberedNames("data/%d.json", 0, 1_000_000) },
		"padded1m":   func() []string { return numberedNames("data/%07d.json", 0, 1_000_000) },
		"imagenet": func() []string {
			r := rng()
			var k []string
			for c := 0; c < 200; c++ {
				cls := 1440764 + c*7919
				for i := 0; i < 1000; i++ {
					k = append(k, fmt.Sprintf("train/n%08d/n%08d_%d.JPEG", cls, cls, r.Intn(50000)*1000+i))
				}
			}
			return k
		},
		// ImageNet's train set as published: 1 000 class folders of 732 to
		// 1 300 images (most 1 300), 1.28 M keys.
		"imagenet1m": func() []string {
			r := rng()
			var k []string
			for c := 0; c < 1000; c++ {
				cls := 1440764 + c*7919
				n := 1300
				if c%8 == 0 {
					n = 732 + r.Intn(568)
				}
				for _, i := range r.Perm(50000)[:n] {
					k = append(k, fmt.Sprintf("train/n%08d/n%08d_%d.JPEG", cls, cls, i))
				}
			}
			return k
		},
		"cas": func() []string {
			var k []string
			for i := 0; i < 200_000; i++ {
				s := sha256.Sum256([]byte(fmt.Sprint(i)))
				h := hex.EncodeToString(s[:])
				k = append(k, h[:2]+"/"+h[2:4]+"/"+h)
			}
			return k
		},
		"stamps":   func() []string { return stamps(rng(), 200_000) },
		"stamps1m": func() []string { return stamps(rng(), 1_000_000) },
		"cloudtrail": func() []string {
			r := rng()
			var k []string
			t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
			for _, reg := range []string{"eu-west-1", "us-east-1", "us-east-2", "us-west-2"} {
				for d := 0; d < 365; d++ {
					day := t0.AddDate(0, 0, d)
					for i := 0; i < 100; i++ {
						ts := day.Add(time.Duration(i) * 14 * time.Minute)
						k = append(k, fmt.Sprintf("AWSLogs/123456789012/CloudTrail/%s/%s/123456789012_CloudTrail_%s_%s_%s.json.gz", reg, day.Format("2006/01/02"), reg, ts.Format("20060102T1504Z"), strings.ToUpper(hex.EncodeToString([]byte{byte(r.Intn(256)), byte(r.Intn(256)), byte(r.Intn(256)), byte(r.Intn(256))}))))
					}
				}
			}
			return k
		},
		// CloudTrail over three years in 16 regions: four busy ones (a
		// file every 7 minutes) and twelve quiet (5-15 a day), 1 M keys.
		"cloudtrail1m": func() []string {
			r := rng()
			var k []string
			t0 := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
			regions := []string{"ap-northeast-1", "ap-northeast-2", "ap-south-1", "ap-southeast-1", "ap-southeast-2",
				"ca-central-1", "eu-central-1", "eu-north-1", "eu-west-1", "eu-west-2", "eu-west-3", "sa-east-1",
				"us-east-1", "us-east-2", "us-west-1", "us-west-2"}
			for _, reg := range regions {
				busy := reg == "eu-west-1" || reg == "us-east-1" || reg == "us-east-2" || reg == "us-west-2"
				for d := 0; d < 1096; d++ {
					day := t0.AddDate(0, 0, d)
					n := 5 + r.Intn(11)
					if busy {
						n = 180 + r.Intn(40)
					}
					for i := 0; i < n; i++ {
						ts := day.Add(time.Duration(i) * 24 * time.Hour / time.Duration(n))
						k = append(k, fmt.Sprintf("AWSLogs/123456789012/CloudTrail/%s/%s/123456789012_CloudTrail_%s_%s_%08X.json.gz", reg, day.Format("2006/01/02"), reg, ts.Format("20060102T1504Z"), r.Uint32()))
					}
				}
			}
			return k
		},
		// S3 server access logs: logs/YYYY-mm-DD-HH-MM-SS-<16 hex>, a
		// few files a minute over 60 days.
		"accesslogs": func() []string {
			return logNames(rng(), 200_000, "2024-03-01", 26*time.Second, func(r *rand.Rand, ts time.Time) string {
				return fmt.Sprintf("logs/%s-%016X", ts.Format("2006-01-02-15-04-05"), r.Uint64())
			})
		},
		// A year of them at 1 M keys (one every 31.6 s, 2.7 pages a
		// day): the first page's month is probed for its days, the
		// other eleven are assumed alike (see assumeNumbered).
		"accesslogs1m": func() []string {
			return logNames(rng(), 1_000_000, "2024-01-01", 31622*time.Millisecond, func(r *rand.Rand, ts time.Time) string {
				return fmt.Sprintf("logs/%s-%016X", ts.Format("2006-01-02-15-04-05"), r.Uint64())
			})
		},
		// CloudFront's standard logs: <distribution>.YYYY-mm-DD-HH.<8 hex>.gz,
		// a file every 26 s over 60 days, the distribution's name before
		// the date.
		"cloudfront": func() []string {
			return logNames(rng(), 200_000, "2024-03-01", 26*time.Second, func(r *rand.Rand, ts time.Time) string {
				return fmt.Sprintf("cf/E2QWRUHAPOMQZL.%s.%08x.gz", ts.Format("2006-01-02-15"), r.Uint32())
			})
		},
		// COCO's train2017: 118 287 images named by sparse ids padded to
		// 12 digits (000000000009.jpg ... 000000581929.jpg).
		"coco": func() []string {
			r := rng()
			seen := map[int]bool{}
			var k []string
			for len(k) < 118_287 {
				id := r.Intn(581_930)
				if !seen[id] {
					seen[id] = true
					k = append(k, fmt.Sprintf("train2017/%012d.jpg", id))
				}
			}
			sort.Strings(k)
			return k
		},
		// Events named by their epoch milliseconds and a hash, a few a
		// second over 3 days (1709251200123-<8 hex>.json).
		"epochms": func() []string {
			r := rng()
			var k []string
			t := int64(1_709_251_200_000)
			for i := 0; i < 200_000; i++ {
				t += 1 + r.Int63n(2600)
				k = append(k, fmt.Sprintf("events/%d-%08x.json", t, r.Uint32()))
			}
			return k
		},
		"b64": func() []string {
			r := rng()
			var k []string
			for i := 0; i < 200_000; i++ {
				b := make([]byte, 16)
				r.Read(b)
				k = append(k, base64.RawURLEncoding.EncodeToString(b))
			}
			return k
		},
		"longprefix": func() []string {
			r := rng()
			var k []string
			for i := 0; i < 200_000; i++ {
				k = append(k, "datasets/project-alpha/v1/raw/"+uuid(r))
			}
			return k
		},
		"shards": func() []string {
			var k []string
			for s := 0; s < 10_000; s++ {
				for f := 0; f < 20; f++ {
					k = append(k, fmt.Sprintf("shards/%06d/%03d.bin", s, f))
				}
			}
			return k
		},
		"spark": func() []string {
			r := rng()
			var k []string
			for d := 1; d <= 30; d++ {
				u := uuid(r)
				for p := 0; p < 3000; p++ {
					k = append(k, fmt.Sprintf("table/date=2024-01-%02d/part-%05d-%s-c000.snappy.parquet", d, p, u))
				}
			}
			return k
		},
		// Kinesis Firehose's delivery to S3: YYYY/MM/DD/HH/ folders of
		// <stream>-<version>-<timestamp>-<uuid> files, a file every 95 s
		// over three years (1 M keys, 11 an hour).
		"firehose": func() []string {
			return logNames(rng(), 1_000_000, "2022-01-01", 95*time.Second, func(r *rand.Rand, ts time.Time) string {
				return fmt.Sprintf("firehose/%s/clicks-1-%s-%s", ts.Format("2006/01/02/15"), ts.Format("2006-01-02-15-04-05"), uuid(r))
			})
		},
		// Hive partitions by date in one level (dt=2022-01-01/), 1 096 of
		// them, more than a probe's page: 900 Spark parts a day on average,
		// busier on weekdays.
		"hivedt": func() []string {
			r := rng()
			var k []string
			t0 := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
			for d := 0; d < 1096; d++ {
				day := t0.AddDate(0, 0, d)
				n := 1000 + r.Intn(200)
				if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
					n = 400 + r.Intn(200)
				}
				id := uuid(r)
				for i := 0; i < n; i++ {
					k = append(k, fmt.Sprintf("events/dt=%s/part-%05d-%s.c000.snappy.parquet", day.Format(time.DateOnly), i, id))
				}
			}
			return k
		},
		// The same by date and hour (dt=2022-01-01/hour=07/), 38 parts an
		// hour on average: 26 304 hour folders under 1 096 dates.
		"hivehour": func() []string {
			r := rng()
			var k []string
			t0 := time.Date(2022, 1, 1, 0, 0, 0, 0, time.UTC)
			for d := 0; d < 1096; d++ {
				day := t0.AddDate(0, 0, d)
				for h := 0; h < 24; h++ {
					n := 20 + r.Intn(37)
					for i := 0; i < n; i++ {
						k = append(k, fmt.Sprintf("events/dt=%s/hour=%02d/part-%05d-%s.c000.snappy.parquet", day.Format(time.DateOnly), h, i, uuid(r)[:8]))
					}
				}
			}
			return k
		},
		// A folder per user, named by a UUID, of ten files each: 100 000
		// folders, a hundred times a probe's page.
		"userdirs": func() []string { return userFolders(rng(), uuid) },
		// The same named by logins (5-10 lowercase letters, no hash).
		"logins": func() []string {
			return userFolders(rng(), func(r *rand.Rand) string {
				b := make([]byte, 5+r.Intn(6))
				for i := range b {
					b[i] = byte('a' + r.Intn(26))
				}
				return string(b)
			})
		},
		"mixed": func() []string { // a few big dense folders among many tiny ones
			r := rng()
			var k []string
			for d := 0; d < 2000; d++ {
				n := 3
				if d%400 == 7 {
					n = 30_000
				}
				for i := 0; i < n; i++ {
					k = append(k, fmt.Sprintf("users/u%05d/%s.bin", d, uuid(r)))
				}
			}
			return k
		},
	}
}

// TestVirtualSurvey is a tool, off unless LISTSIM_SURVEY is set: it lists
// every shape (or those LISTSIM_SURVEY names, comma-separated; "all" for
// every one) in virtual time, 64 workers, 30 ms, and prints round trips,
// the oracle's, requests over the minimum, ranges and probes.
// LISTSIM_TIMELINE prints calls per round trip as TestVirtual does.
//
//	LISTSIM_SURVEY=all go test -count=1 -run TestVirtualSurvey -v ./benchmarks/listsim
func TestVirtualSurvey(t *testing.T) {
	only := os.Getenv("LISTSIM_SURVEY")
	if only == "" {
		t.Skip("set LISTSIM_SURVEY=all (or shape names) to survey bucket shapes in virtual time")
	}
	var names []string
	for n := range shapes() {
		if only == "all" || strings.Contains(","+only+",", ","+n+",") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	const latency = 30 * time.Millisecond
	timeline := os.Getenv("LISTSIM_TIMELINE") != ""
	for _, n := range names {
		set, err := layouts.FromSorted(shapeKeys(n))
		if err != nil {
			t.Fatal(err)
		}
		r, or := virtualRun(t, set, server{latency: latency, trace: timeline}, listing.Options{Workers: 64})
		rounds := r.Wall.Seconds() / latency.Seconds()
		t.Logf("SURVEY %-10s keys %7d rounds %5.1f oracle %4.1f per-min %.3f ranges %d probes %d", n, set.Len(), rounds, or, r.PerMin(), r.Ranges, r.Discovery)
		if timeline {
			printTimeline(os.Stdout, r.Calls, latency)
		}
	}
}

// numberedNames is format applied to each number from lo up to (not
// including) hi: a folder of numbered names.
func numberedNames(format string, lo, hi int) []string {
	k := make([]string, 0, hi-lo)
	for i := lo; i < hi; i++ {
		k = append(k, fmt.Sprintf(format, i))
	}
	return k
}

// uuidNames is n names pre + a UUID (uuid's, drawn from r) + ext.
func uuidNames(r *rand.Rand, uuid func(*rand.Rand) string, n int, pre, ext string) []string {
	k := make([]string, 0, n)
	for i := 0; i < n; i++ {
		k = append(k, pre+uuid(r)+ext)
	}
	return k
}

// logNames returns n log names, sorted, one every step from day on:
// name(r, t) for each time t.
func logNames(r *rand.Rand, n int, day string, step time.Duration, name func(r *rand.Rand, t time.Time) string) []string {
	t0, err := time.Parse(time.DateOnly, day)
	if err != nil {
		panic(err)
	}
	k := make([]string, 0, n)
	for i := 0; i < n; i++ {
		k = append(k, name(r, t0.Add(time.Duration(i)*step)))
	}
	sort.Strings(k)
	return k
}

// userFolders is 100 000 folders under users/ named by name, ten files
// each (users/<name>/3.jpg).
func userFolders(r *rand.Rand, name func(*rand.Rand) string) []string {
	var k []string
	for u := 0; u < 100_000; u++ {
		id := name(r)
		for i := 0; i < 10; i++ {
			k = append(k, fmt.Sprintf("users/%s/%d.jpg", id, i))
		}
	}
	return k
}

// stamps is n names of one folder of ISO timestamps 1.5 s apart, each
// with a random suffix (events/2024-01-01T00:00:01.500Z-3f09a1.json).
func stamps(r *rand.Rand, n int) []string {
	k := make([]string, 0, n)
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 0; i < n; i++ {
		k = append(k, fmt.Sprintf("events/%s-%06x.json", t0.Add(time.Duration(i)*1500*time.Millisecond).Format("2006-01-02T15:04:05.000Z"), r.Intn(1<<24)))
	}
	return k
}
