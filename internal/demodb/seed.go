package demodb

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// Sizes and shape of the generated data.
const (
	// numUsers is the number of rows in users, ids 1 to numUsers.
	numUsers = 2000
	// numPosts is the number of rows in posts, ids 1 to numPosts.
	numPosts = 8000

	// batchSize is the number of rows per INSERT statement.
	batchSize = 2000
	// seed1 and seed2 seed the PCG generator; changing them changes every row.
	seed1, seed2 = 20250101, 42
)

// referenceDate is the "now" of the generated data: the start of the current
// UTC day. Every created_at and published_at lies in the two years before
// it, so windowed demo jobs (previous_day, previous_month) find data on any
// day, and reports made on the same day are identical.
func referenceDate() time.Time {
	return time.Now().UTC().Truncate(24 * time.Hour)
}

var schema = []string{
	"CREATE TABLE users (" +
		" id INT NOT NULL PRIMARY KEY," +
		" name VARCHAR(100) NULL," +
		" email VARCHAR(200) NOT NULL," +
		" country CHAR(2) NULL," +
		" created_at DATETIME NOT NULL," +
		" score DECIMAL(10,2) NULL" +
		") DEFAULT CHARSET=utf8mb4",
	"CREATE TABLE posts (" +
		" id INT NOT NULL PRIMARY KEY," +
		" user_id INT NULL," +
		" title VARCHAR(200) NOT NULL," +
		" published_at DATETIME NULL," +
		" views INT UNSIGNED NOT NULL" +
		") DEFAULT CHARSET=utf8mb4",
}

var (
	userColumns = []string{"id", "name", "email", "country", "created_at", "score"}
	postColumns = []string{"id", "user_id", "title", "published_at", "views"}
)

var (
	firstNames = []string{
		"Alice", "Bob", "Carol", "Dave", "Eve", "Frank", "Grace", "Heidi", "Ivan", "Judy",
		"Mallory", "Niaj", "Olivia", "Peggy", "Rupert", "Sybil", "Trent", "Victor", "Walter", "Yusuf",
		"Zoë", "José", "Søren", "Łukasz", "Ängela", "François", "Müge", "Ōta", "Ελένη", "Анна",
		"李", "王", "Nguyễn", "Siobhán", "Björk", "O'Neil",
	}
	lastNames = []string{
		"Smith", "Jones", "Brown", "García", "Müller", "Dvořák", "Novák", "Kowalski", "Rossi", "Dubois",
		"Jensen", "Silva", "Yılmaz", "Papadopoulos", "Иванова", "雷", "小明", "Tanaka", "Kim", "O'Brien",
		"van der Berg", "Smith-Jones", "😀",
	}
	countries = []string{"US", "GB", "DE", "FR", "CN", "JP", "BR", "IN", "PL", "IE", "SE", "TR"}
	topics    = []string{
		"joins", "indexes", "Go", "MySQL", "reports", "CSV", "Excel", "cron jobs", "NULLs", "Unicode",
		"café culture", "日本語", "emoji 🎉", "\"quotes\"", "commas, everywhere", "déjà vu",
	}
	titleForms = []string{
		"Notes on %s",
		"Why %s matter",
		"%s, revisited",
		"A short guide to %s",
		"What I learned about %s",
		"%s: the good, the bad and the ugly",
		"Ten things about %s",
		"\"%s\" considered harmful",
		"Re: %s\nfollow-up",
	}
)

// data is the generated content of the demo database, one []any per row in
// column order, nil for NULL.
type data struct {
	users [][]any
	posts [][]any
}

// generate returns the demo rows, the same on every call with the same ref:
//
//   - users: numUsers rows. About 4% have a NULL name and 6% a NULL country;
//     names mix ASCII, accented, Greek, Cyrillic, CJK and emoji. email is
//     unique (user<id>@example.com). created_at is spread over the two years
//     before ref. score is a DECIMAL(10,2) between -100.00 and
//     999.99, NULL for about 10%.
//   - posts: numPosts rows. Users whose id is a multiple of 10 never write, and
//     others may not have been picked, so many users have no post; authors are
//     skewed so that low ids write most. About 3% of posts have a NULL user_id
//     and 2% name a user that does not exist (ids above numUsers). Titles
//     include commas, quotes, newlines and non-ASCII text. published_at is
//     NULL for about 8% (drafts) and otherwise in the two years before
//     ref. views is skewed, from 0 up to about 1,000,000.
func generate(ref time.Time) data {
	r := rand.New(rand.NewPCG(seed1, seed2))
	const twoYears = int64(2 * 365 * 24 * 60 * 60)
	when := func() string {
		return ref.Add(-time.Duration(1+r.Int64N(twoYears)) * time.Second).Format(time.DateTime)
	}

	var d data
	d.users = make([][]any, 0, numUsers)
	for id := 1; id <= numUsers; id++ {
		var name, country, score any
		if r.IntN(100) >= 4 {
			name = firstNames[r.IntN(len(firstNames))] + " " + lastNames[r.IntN(len(lastNames))]
		}
		if r.IntN(100) >= 6 {
			country = countries[r.IntN(len(countries))]
		}
		if r.IntN(100) >= 10 {
			cents := r.IntN(110000) - 10000 // -100.00 to 999.99
			score = formatCents(cents)
		}
		email := fmt.Sprintf("user%d@example.com", id)
		d.users = append(d.users, []any{id, name, email, country, when(), score})
	}

	// Authors: users whose id is not a multiple of 10.
	authors := make([]int, 0, numUsers)
	for id := 1; id <= numUsers; id++ {
		if id%10 != 0 {
			authors = append(authors, id)
		}
	}
	d.posts = make([][]any, 0, numPosts)
	for id := 1; id <= numPosts; id++ {
		var userID, published any
		switch p := r.IntN(100); {
		case p < 3:
			// No author.
		case p < 5:
			userID = numUsers + 1 + r.IntN(500) // an author that does not exist
		default:
			u := r.Float64()
			userID = authors[int(u*u*float64(len(authors)))]
		}
		title := fmt.Sprintf(titleForms[r.IntN(len(titleForms))], topics[r.IntN(len(topics))])
		if r.IntN(100) >= 8 {
			published = when()
		}
		// Most posts are read a little, a few a lot.
		views := uint32(r.ExpFloat64() * 500)
		if r.IntN(100) == 0 {
			views = uint32(r.IntN(1_000_000))
		}
		d.posts = append(d.posts, []any{id, userID, title, published, views})
	}
	return d
}

// formatCents formats an amount of cents as a DECIMAL literal such as -1.05.
func formatCents(cents int) string {
	sign := ""
	if cents < 0 {
		sign, cents = "-", -cents
	}
	return fmt.Sprintf("%s%d.%02d", sign, cents/100, cents%100)
}

// insertBatches inserts rows into table with multi-row INSERT statements of
// up to batchSize rows each.
func insertBatches(ctx context.Context, db *sql.DB, table string, columns []string, rows [][]any) error {
	row := "(" + strings.TrimSuffix(strings.Repeat("?, ", len(columns)), ", ") + ")"
	prefix := "INSERT INTO " + table + " (" + strings.Join(columns, ", ") + ") VALUES "
	for start := 0; start < len(rows); start += batchSize {
		batch := rows[start:min(start+batchSize, len(rows))]
		var b strings.Builder
		b.WriteString(prefix)
		args := make([]any, 0, len(batch)*len(columns))
		for i, r := range batch {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(row)
			args = append(args, r...)
		}
		if _, err := db.ExecContext(ctx, b.String(), args...); err != nil {
			return fmt.Errorf("insert into %s rows %d-%d: %w", table, start+1, start+len(batch), err)
		}
	}
	return nil
}
