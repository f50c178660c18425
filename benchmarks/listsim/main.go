// Command listsim measures the adaptive parallel lister (go/listing) in
// process, against a simulated ListObjectsV2 server (benchmarks/internal/
// listsim) that adds a fixed latency per call: no HTTP, no toxiproxy, runs
// in seconds. For each layout it prints the wall time, the oracle's ideal
// time (ceil(pages/workers) round trips), their ratio, and requests over the
// minimum (ceil(keys/1000)); every key is checked to arrive exactly once.
//
//	go run ./benchmarks/listsim -n 1000000 -latency 30ms -workers 64
//
// -colocated instead models a CPU-bound server on the same 2 cores (calls
// queue for a core, 1 ms + 4 us per entry each) over 100 folders x 1000 keys
// and compares worker counts.
package main

import (
	"flag"
	"fmt"
	"log"
	"os"
	"runtime/pprof"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/s3turbo/s3turbo/benchmarks/internal/layouts"
	"github.com/s3turbo/s3turbo/benchmarks/internal/listsim"
	"github.com/s3turbo/s3turbo/go/listing"
)

func main() {
	n := flag.Int("n", 1_000_000, "keys per layout")
	latency := flag.Duration("latency", 30*time.Millisecond, "added to every LIST call")
	workers := flag.Int("workers", 64, "listing.Options.Workers")
	only := flag.String("layouts", strings.Join(layouts.Names, ","), "comma-separated layouts")
	coloc := flag.Bool("colocated", false, "co-located CPU-bound server model instead")
	timeline := flag.Bool("timeline", false, "print calls in flight per latency slot")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile here")
	flag.Parse()
	log.SetFlags(0)
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer pprof.StopCPUProfile()
	}
	if *coloc {
		set := folders(100, 1000)
		fmt.Println("| workers | seconds | requests | requests / min | peak in flight |")
		fmt.Println("|---:|---:|---:|---:|---:|")
		for _, w := range []int{1, 2, 4, 8, 64} {
			r, err := simulate(colocated(set), listing.Options{Workers: w})
			if err != nil {
				log.Fatal(err)
			}
			fmt.Printf("| %d | %.3f | %d | %.2f | %d |\n", w, r.Wall.Seconds(), r.Requests, r.PerMin(), r.Peak)
		}
		return
	}
	fmt.Printf("%d keys, %v per call, %d workers\n\n", *n, *latency, *workers)
	fmt.Println("| layout | seconds | ideal | fraction | oracle | vs oracle | requests | requests / min | discovery | ranges |")
	fmt.Println("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
	for _, name := range strings.Split(*only, ",") {
		set, err := layouts.Generate(name, *n, 1)
		if err != nil {
			log.Fatal(err)
		}
		api := &listsim.API{Set: set, Latency: *latency, Trace: *timeline}
		r, err := simulate(api, listing.Options{Workers: *workers})
		if err != nil {
			log.Fatalf("%s: %v", name, err)
		}
		ow, err := oracle(&listsim.API{Set: set, Latency: *latency}, *workers)
		if err != nil {
			log.Fatalf("%s: %v", name, err)
		}
		fmt.Printf("| %s | %.3f | %.3f | %.2f | %.3f | %.2f | %d | %.3f | %d | %d |\n", name, r.Wall.Seconds(), r.Ideal.Seconds(),
			r.Fraction(), ow.Seconds(), ow.Seconds()/r.Wall.Seconds(), r.Requests, r.PerMin(), r.Discovery, r.Ranges)
		if *timeline {
			printTimeline(os.Stdout, r.Calls, *latency)
		}
	}
}

// printTimeline prints, per latency-long slot, how many calls started in it
// (delimiter probes in parentheses) and how many keys they returned.
func printTimeline(w *os.File, calls []listsim.Call, slot time.Duration) {
	sort.Slice(calls, func(i, j int) bool { return calls[i].Start < calls[j].Start })
	type agg struct{ n, probes, keys int }
	var slots []agg
	for _, c := range calls {
		i := int(c.Start / slot)
		for len(slots) <= i {
			slots = append(slots, agg{})
		}
		slots[i].n++
		slots[i].keys += c.Count
		if c.Delimiter {
			slots[i].probes++
		}
	}
	var sb strings.Builder
	for i, s := range slots {
		fmt.Fprintf(&sb, "%d:%d(%d)/%dk ", i, s.n, s.probes, s.keys/1000)
	}
	fmt.Fprintln(w, "  timeline:", sb.String())
	// Average calls in flight per slot: the share of the workers kept busy.
	var busy []float64
	for _, c := range calls {
		for t := c.Start; t < c.End; {
			i := int(t / slot)
			end := min(c.End, time.Duration(i+1)*slot)
			for len(busy) <= i {
				busy = append(busy, 0)
			}
			busy[i] += float64(end-t) / float64(slot)
			t = end
		}
	}
	sb.Reset()
	for i, b := range busy {
		fmt.Fprintf(&sb, "%d:%.0f ", i, b)
	}
	fmt.Fprintln(w, "  in flight:", sb.String())
	if os.Getenv("LISTSIM_PROBES") != "" {
		for _, c := range calls {
			if c.Delimiter {
				fmt.Fprintf(w, "    probe %5.0fms %q: %d\n", float64(c.Start)/1e6, c.Prefix, c.Count)
			}
		}
	}
	// calls is sorted by start (above).
	if n, err := strconv.Atoi(os.Getenv("LISTSIM_HEAD")); err == nil && n > 0 { // the first calls, to see the ramp-up
		printCalls(w, calls[:min(n, len(calls))])
	}
	if os.Getenv("LISTSIM_CHAINS") != "" {
		printChains(w, calls, slot)
	}
	if os.Getenv("LISTSIM_TAIL") != "" { // the last calls, to see what the tail lists
		printCalls(w, calls[max(0, len(calls)-tailN()):])
	}
}

// printCalls prints one line per call: start, delimiter, prefix, start-after
// and the entries returned.
func printCalls(w *os.File, calls []listsim.Call) {
	for _, c := range calls {
		fmt.Fprintf(w, "    %5.0fms %v %q after %q: %d\n", float64(c.Start)/1e6, c.Delimiter, c.Prefix, c.StartAfter, c.Count)
	}
}

// tailN is how many of the last calls LISTSIM_TAIL prints (LISTSIM_TAIL=N, default 40).
func tailN() int {
	if n, err := strconv.Atoi(os.Getenv("LISTSIM_TAIL")); err == nil && n > 0 {
		return n
	}
	return 40
}

// printChains links each listing call to the earlier call it continues
// (its StartAfter lies within that call's keys, which ended before it
// began) and prints the chains alive in the last rounds: when each began,
// its calls and how many were full pages (diagnostics; LISTSIM_CHAINS=N
// prints those that ended in the last N rounds, 4 by default).
func printChains(w *os.File, calls []listsim.Call, slot time.Duration) {
	type chain struct {
		start, end time.Duration
		calls      []listsim.Call
		from       string
	}
	var chains []*chain
	for _, c := range calls {
		if c.Delimiter {
			continue
		}
		var best *chain
		for _, ch := range chains {
			l := ch.calls[len(ch.calls)-1]
			if l.End <= c.Start && l.First != "" && c.StartAfter >= l.First && c.StartAfter <= l.Last && (best == nil || l.End > best.end) {
				best = ch
			}
		}
		if best == nil {
			chains = append(chains, &chain{start: c.Start, end: c.End, calls: []listsim.Call{c}, from: c.StartAfter})
			continue
		}
		best.calls = append(best.calls, c)
		best.end = c.End
	}
	var last time.Duration
	for _, ch := range chains {
		last = max(last, ch.end)
	}
	n := 4
	if s, err := strconv.Atoi(os.Getenv("LISTSIM_CHAINS")); err == nil && s > 0 {
		n = s
	}
	for _, ch := range chains {
		if ch.end < last-time.Duration(n)*slot {
			continue
		}
		full := 0
		for _, c := range ch.calls {
			if c.Count == listing.MaxKeys {
				full++
			}
		}
		fmt.Fprintf(w, "    chain from %3.0f to %3.0f rounds, %2d calls (%2d full) after %q\n",
			float64(ch.start)/float64(slot), float64(ch.end)/float64(slot), len(ch.calls), full, ch.from)
	}
}
