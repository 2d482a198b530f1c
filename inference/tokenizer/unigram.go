package tokenizer

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"slices"
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
	Type         string               `json:"type"`
	UnkID        *int                 `json:"unk_id"`
	Vocab        [][2]json.RawMessage `json:"vocab"`
	ByteFallback bool                 `json:"byte_fallback"`
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
	pieces := make([]string, len(m.Vocab))
	minScore := math.Inf(1)
	for i, e := range m.Vocab {
		if err := json.Unmarshal(e[0], &pieces[i]); err != nil {
			return nil, fmt.Errorf("Unigram vocabulary entry %d: piece: %w", i, err)
		}
		if err := json.Unmarshal(e[1], &u.scores[i]); err != nil {
			return nil, fmt.Errorf("Unigram vocabulary entry %d (%q): score: %w", i, pieces[i], err)
		}
		u.ids[pieces[i]] = int32(i)
		minScore = min(minScore, u.scores[i])
	}
	u.unkScore = minScore - unkPenalty
	u.trie = buildPieceTrie(pieces, u.ids)
	for b := range u.bytes {
		u.bytes[b] = -1
		if id, ok := u.ids[fmt.Sprintf("<0x%02X>", b)]; ok {
			u.bytes[b] = id
		}
	}
	return u, nil
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

func buildPieceTrie(pieces []string, ids map[string]int32) pieceTrie {
	type node struct {
		kids map[byte]int32
		leaf int32
	}
	nodes := []node{{leaf: -1}}
	for _, p := range pieces {
		cur := int32(0)
		for i := 0; i < len(p); i++ {
			if nodes[cur].kids == nil {
				nodes[cur].kids = map[byte]int32{}
			}
			next, ok := nodes[cur].kids[p[i]]
			if !ok {
				next = int32(len(nodes))
				nodes = append(nodes, node{leaf: -1})
				nodes[cur].kids[p[i]] = next
			}
			cur = next
		}
		if cur != 0 { // HF's trie never reports the empty piece
			nodes[cur].leaf = ids[p]
		}
	}
	t := pieceTrie{
		first: make([]int32, len(nodes)),
		count: make([]uint16, len(nodes)),
		leaf:  make([]int32, len(nodes)),
	}
	for i, nd := range nodes {
		t.leaf[i] = nd.leaf
		t.first[i] = int32(len(t.labels))
		t.count[i] = uint16(len(nd.kids))
		keys := make([]byte, 0, len(nd.kids))
		for k := range nd.kids {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			t.labels = append(t.labels, k)
			t.target = append(t.target, nd.kids[k])
		}
	}
	for k, c := range nodes[0].kids {
		t.root[k] = c
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
