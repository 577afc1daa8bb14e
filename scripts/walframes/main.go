// Command walframes tells which tables and indexes a SQLite database's commits write (issue 18):
// it reads copies of the write-ahead log, counts each frame against the b-tree its page belongs to
// (SQLite's dbstat table), and prints the frames per commit of each.
//
//	# while the server is under load, copy its WAL a few times (it restarts at each checkpoint)
//	for k in 1 2 3 4 5 6 7 8; do sleep 0.5; cp DATA/kessai.db-wal /tmp/wal.$k; done
//	# once the server has stopped
//	go run ./scripts/walframes DATA/kessai.db /tmp/wal.*
//
// Pages keep their owner (no VACUUM runs), so the database as it is afterwards names the pages of
// the copies. Frames after the last one of the copy's current generation (another salt) are not
// counted.
package main

import (
	"database/sql"
	"encoding/binary"
	"fmt"
	"os"
	"sort"

	_ "modernc.org/sqlite"
)

func main() {
	if len(os.Args) < 3 {
		fmt.Fprintln(os.Stderr, "usage: walframes DATABASE WAL-COPY...")
		os.Exit(2)
	}
	owner, err := pageOwners(os.Args[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	count := map[string]int{}
	commits, frames := 0, 0
	for _, path := range os.Args[2:] {
		w, err := os.ReadFile(path)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		c, f := countFrames(w, owner, count)
		commits += c
		frames += f
	}
	if commits == 0 {
		fmt.Println("no commit in the copies")
		return
	}
	fmt.Printf("commits=%d frames=%d frames/commit=%.1f\n", commits, frames, float64(frames)/float64(commits))
	names := make([]string, 0, len(count))
	for n := range count {
		names = append(names, n)
	}
	sort.Slice(names, func(i, j int) bool { return count[names[i]] > count[names[j]] })
	for _, n := range names {
		fmt.Printf("  %-40s %6.2f per commit\n", n, float64(count[n])/float64(commits))
	}
}

// pageOwners maps each page of the database to the table or index it belongs to.
func pageOwners(path string) (map[uint32]string, error) {
	db, err := sql.Open("sqlite", "file:"+path+"?mode=ro")
	if err != nil {
		return nil, err
	}
	defer db.Close()
	rows, err := db.Query(`SELECT name, pageno FROM dbstat`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	owner := map[uint32]string{}
	for rows.Next() {
		var name string
		var page uint32
		if err := rows.Scan(&name, &page); err != nil {
			return nil, err
		}
		owner[page] = name
	}
	return owner, rows.Err()
}

// countFrames counts the frames of one WAL image (32-byte header, then 24-byte frame headers
// each followed by a page) into count, and returns the commits and frames it held.
func countFrames(w []byte, owner map[uint32]string, count map[string]int) (commits, frames int) {
	if len(w) < 32 {
		return 0, 0
	}
	pageSize := int(binary.BigEndian.Uint32(w[8:12]))
	salt := binary.BigEndian.Uint32(w[16:20])
	for off := 32; off+24+pageSize <= len(w); off += 24 + pageSize {
		h := w[off : off+24]
		if binary.BigEndian.Uint32(h[8:12]) != salt {
			break // a frame of an earlier generation of the file
		}
		page := binary.BigEndian.Uint32(h[0:4])
		name := owner[page]
		switch {
		case page == 1:
			name = "database header (page 1)"
		case name == "":
			name = "free or new pages"
		}
		count[name]++
		frames++
		if binary.BigEndian.Uint32(h[4:8]) != 0 { // the database size: set on a commit's last frame
			commits++
		}
	}
	return commits, frames
}
