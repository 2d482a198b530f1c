package tokenizer

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"unicode/utf8"
)

// unkPenalty is what HF's Unigram (and sentencepiece) subtract from the lowest piece score to
// score an unknown character (K_UNK_PENALTY).
const unkPenalty = 10.0

// unigram is HF tokenizers' Unigram model (models/unigram/model.rs, encode_optimized): a
// Viterbi search over the pieces that start at each character, an unknown character scored
// min_score - 10, and consecutive unknown characters fused into one token before the ids are
// looked up.
type unigram struct {
	scores       []float64        // by id
	ids          map[string]int32 // piece -> id; the last of duplicate pieces wins, as in HF
	unkID        int32
	unkScore     float64
	byteFallback bool
	bytes        [256]int32 // byte_fallback: id of "<0xXX>", -1 when missing
	trie         pieceTrie
}

// hfUnigramModel is the "model" object of a Unigram tokenizer.json.
type hfUnigramModel struct {
	Type         string       `json:"type"`
	UnkID        *int         `json:"unk_id"`
	Vocab        []vocabEntry `json:"vocab"`
	ByteFallback bool         `json:"byte_fallback"`
}

func newUnigram(m hfUnigramModel) (*unigram, error) {
	if len(m.Vocab) == 0 {
		return nil, errors.New("empty Unigram vocabulary")
	}
	if len(m.Vocab) > math.MaxInt32 {
		return nil, fmt.Errorf("Unigram vocabulary of %d pieces is too large", len(m.Vocab))
	}
	if m.UnkID == nil {
		return nil, errors.New("unsupported Unigram model without unk_id: unknown characters would be an error")
	}
	if *m.UnkID < 0 || *m.UnkID >= len(m.Vocab) {
		return nil, fmt.Errorf("Unigram unk_id %d is not in the vocabulary (%d pieces)", *m.UnkID, len(m.Vocab))
	}
	u := &unigram{
		scores:       make([]float64, len(m.Vocab)),
		ids:          make(map[string]int32, len(m.Vocab)),
		unkID:        int32(*m.UnkID),
		byteFallback: m.ByteFallback,
	}
	minScore := math.Inf(1)
	for i, e := range m.Vocab {
		u.scores[i] = e.score
		u.ids[e.piece] = int32(i)
		minScore = min(minScore, e.score)
	}
	u.unkScore = minScore - unkPenalty
	u.trie = buildPieceTrie(u.ids)
	for b := range u.bytes {
		u.bytes[b] = -1
		if id, ok := u.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
			u.bytes[b] = id
		}
	}
	return u, nil
}

// vocabEntry is one [piece, score] pair of a Unigram vocabulary.
type vocabEntry struct {
	piece string
	score float64
}

// UnmarshalJSON reads ["piece", score] without the allocations of a generic decode: a
// bge-m3 vocabulary has 250,002 entries.
func (v *vocabEntry) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) < 2 || b[0] != '[' || b[len(b)-1] != ']' {
		return fmt.Errorf("vocabulary entry %.40s is not a [piece, score] pair", b)
	}
	inner := b[1 : len(b)-1]
	comma := bytes.LastIndexByte(inner, ',') // a number has no comma, so this one ends the piece
	if comma < 0 {
		return fmt.Errorf("vocabulary entry %.40s is not a [piece, score] pair", b)
	}
	if err := json.Unmarshal(inner[:comma], &v.piece); err != nil {
		return fmt.Errorf("vocabulary entry %.40s: piece: %w", b, err)
	}
	score, err := strconv.ParseFloat(string(bytes.TrimSpace(inner[comma+1:])), 64)
	if err != nil {
		return fmt.Errorf("vocabulary entry %.40s: score: %w", b, err)
	}
	v.score = score
	return nil
}

// bestNode is the best path ending at one byte position of the piece being encoded.
type bestNode struct {
	score   float64
	start   int32 // where the last token of the path starts; -1: no path yet
	id      int32
	reached bool
}

// encodeWord appends the ids of one pre-tokenized word (e.g. "▁hello") to dst.
// nodes is scratch space, returned for reuse.
func (u *unigram) encodeWord(dst []int64, word string, nodes []bestNode) ([]int64, []bestNode) {
	if word == "" {
		return dst, nodes
	}
	n := len(word)
	nodes = slices.Grow(nodes[:0], n+1)[:n+1]
	clear(nodes)
	for start := 0; start < n; {
		here := nodes[start].score
		_, mblen := utf8.DecodeRuneInString(word[start:])
		single := false
		// Every piece equal to word[start:end], shortest first (HF's common_prefix_search).
		tr := &u.trie
		for cur, end := tr.root[word[start]], start+1; cur != 0; end++ {
			if id := tr.leaf[cur]; id >= 0 {
				cand := u.scores[id] + here
				if t := &nodes[end]; !t.reached || cand > t.score {
					*t = bestNode{score: cand, start: int32(start), id: id, reached: true}
				}
				if end-start == mblen {
					single = true
				}
			}
			if end >= n {
				break
			}
			cur = tr.child(cur, word[end])
		}
		if !single {
			cand := u.unkScore + here
			t := &nodes[start+mblen]
			if !t.reached || cand > t.score {
				*t = bestNode{score: cand, start: int32(start), id: u.unkID, reached: true}
			}
		}
		start += mblen
	}
	// Backtrack, fusing runs of unknown tokens (their text is looked up again, as HF does).
	mark := len(dst)
	for end := n; end > 0; {
		nd := nodes[end]
		start := int(nd.start)
		if nd.id == u.unkID {
			s := start
			for s > 0 && nodes[s].id == u.unkID {
				s = int(nodes[s].start)
			}
			dst = u.appendUnknown(dst, word[s:end])
			end = s
			continue
		}
		dst = append(dst, int64(nd.id))
		end = start
	}
	slices.Reverse(dst[mark:])
	return dst, nodes
}

// appendUnknown appends the id(s) of a run of unknown tokens: the id of its text if that is a
// piece, else byte_fallback's byte pieces, else unk_id. dst is built back to front.
func (u *unigram) appendUnknown(dst []int64, piece string) []int64 {
	if id, ok := u.ids[piece]; ok {
		return append(dst, int64(id))
	}
	if u.byteFallback {
		ok := true
		for i := 0; i < len(piece) && ok; i++ {
			ok = u.bytes[piece[i]] >= 0
		}
		if ok {
			for i := len(piece) - 1; i >= 0; i-- { // back to front, as the caller reverses
				dst = append(dst, int64(u.bytes[piece[i]]))
			}
			return dst
		}
	}
	return append(dst, int64(u.unkID))
}

// pieceTrie is a byte trie over the vocabulary, flattened into arrays. Children of a node are
// sorted by label; the root's are indexed directly.
type pieceTrie struct {
	root   [256]int32 // child of the root per byte; 0: none
	first  []int32    // per node: index of its first edge in labels/targets
	count  []uint16   // per node: number of edges
	leaf   []int32    // per node: piece id, -1 when no piece ends here
	labels []byte
	target []int32
}

func buildPieceTrie(ids map[string]int32) pieceTrie {
	sorted := make([]string, 0, len(ids))
	for p := range ids {
		if p != "" { // HF's trie never reports the empty piece
			sorted = append(sorted, p)
		}
	}
	slices.Sort(sorted)
	// Nodes: the root, plus one per byte of each piece past its common prefix with the
	// previous one. Every node but the root is the target of one edge.
	nodes := 1
	for i, p := range sorted {
		common := 0
		if i > 0 {
			prev := sorted[i-1]
			for common < len(prev) && common < len(p) && prev[common] == p[common] {
				common++
			}
		}
		nodes += len(p) - common
	}
	t := pieceTrie{
		first:  make([]int32, 0, nodes),
		count:  make([]uint16, 0, nodes),
		leaf:   make([]int32, 0, nodes),
		labels: make([]byte, 0, nodes-1),
		target: make([]int32, 0, nodes-1),
	}
	var node func(lo, hi, depth int) int32
	// node builds the node for sorted[lo:hi], which share their first depth bytes, and its
	// subtree (depth first); it returns the node's index.
	node = func(lo, hi, depth int) int32 {
		me := int32(len(t.leaf))
		t.leaf = append(t.leaf, -1)
		t.first = append(t.first, 0)
		t.count = append(t.count, 0)
		if lo < hi && len(sorted[lo]) == depth {
			t.leaf[me] = ids[sorted[lo]]
			lo++
		}
		// The children: one per distinct byte at depth, in order; the edges of a node are
		// contiguous, so they are all reserved before the subtrees are built.
		next := func(i int) int {
			j := i + 1
			for j < hi && sorted[j][depth] == sorted[i][depth] {
				j++
			}
			return j
		}
		first := len(t.labels)
		for i := lo; i < hi; i = next(i) {
			t.labels = append(t.labels, sorted[i][depth])
			t.target = append(t.target, 0)
		}
		t.first[me], t.count[me] = int32(first), uint16(len(t.labels)-first)
		for i, k := lo, first; i < hi; i, k = next(i), k+1 {
			t.target[k] = node(i, next(i), depth+1)
		}
		return me
	}
	node(0, len(sorted), 0)
	for k := range int(t.count[0]) {
		t.root[t.labels[int(t.first[0])+k]] = t.target[int(t.first[0])+k]
	}
	return t
}

// child is the child of node cur labelled c, 0 when none.
func (t *pieceTrie) child(cur int32, c byte) int32 {
	lo, hi := int(t.first[cur]), int(t.first[cur])+int(t.count[cur])
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		switch l := t.labels[mid]; {
		case l < c:
			lo = mid + 1
		case l > c:
			hi = mid
		default:
			return t.target[mid]
		}
	}
	return 0
}
