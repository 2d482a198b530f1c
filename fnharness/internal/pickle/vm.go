package pickle

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"math/big"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Errors wrapped by the unpickler; test with errors.Is.
var (
	// ErrNotPickle: the input does not look like a pickle at all.
	ErrNotPickle = errors.New("not a pickle")
	// ErrTruncated: the input ended in the middle of an opcode or before STOP.
	ErrTruncated = errors.New("pickle data was truncated")
	// ErrMalformed: an opcode's argument or the stack/memo state is invalid.
	ErrMalformed = errors.New("malformed pickle")
	// ErrUnsupported: a valid opcode this unpickler refuses (persistent IDs, the extension
	// registry, out-of-band buffers) or an unknown protocol.
	ErrUnsupported = errors.New("unsupported pickle feature")
	// ErrLimit: a resource limit (stack, marks, memo, integer size) was exceeded.
	ErrLimit = errors.New("pickle limit exceeded")
)

// OpError reports where unpickling failed: the opcode and the byte offset of the opcode in the
// input. When the input ends between opcodes, Op is STOP and Offset is the input length.
type OpError struct {
	Op     byte
	Offset int
	Err    error
}

func (e *OpError) Error() string {
	return fmt.Sprintf("pickle: opcode %s (0x%02x) at offset %d: %v", OpName(e.Op), e.Op, e.Offset, e.Err)
}

func (e *OpError) Unwrap() error { return e.Err }

// Limits bounds the resources one Unpickle may use. Zero fields take the defaults of
// DefaultLimits. Independently of them, the memory used grows at most linearly with the input
// length: every value is created by an opcode that consumes input bytes, and data is copied
// out of the input at most once.
type Limits struct {
	// MaxStack is the maximum number of values on the stack (all MARK levels together).
	MaxStack int
	// MaxMarks is the maximum number of open MARKs.
	MaxMarks int
	// MaxMemo is the maximum number of memo entries.
	MaxMemo int
	// MaxIntDigits is the maximum length of the decimal text of an INT or LONG opcode
	// (CPython's default int max_str_digits is 4300).
	MaxIntDigits int
}

// DefaultLimits returns the limits used by Unpickle.
func DefaultLimits() Limits {
	return Limits{
		MaxStack:     1 << 20,
		MaxMarks:     1 << 16,
		MaxMemo:      1 << 20,
		MaxIntDigits: 4300,
	}
}

func (l Limits) withDefaults() Limits {
	d := DefaultLimits()
	if l.MaxStack <= 0 {
		l.MaxStack = d.MaxStack
	}
	if l.MaxMarks <= 0 {
		l.MaxMarks = d.MaxMarks
	}
	if l.MaxMemo <= 0 {
		l.MaxMemo = d.MaxMemo
	}
	if l.MaxIntDigits <= 0 {
		l.MaxIntDigits = d.MaxIntDigits
	}
	return l
}

// Unpickle decodes one pickle (protocols 0-5) from data without executing or importing
// anything. Bytes after STOP are ignored, as Python's pickle.loads ignores them.
func Unpickle(data []byte) (Value, error) {
	v, _, err := UnpickleLimits(data, Limits{})
	return v, err
}

// UnpickleLimits is Unpickle with explicit limits; it also returns the number of bytes
// consumed, up to and including STOP.
func UnpickleLimits(data []byte, lim Limits) (Value, int, error) {
	m := machine{data: data, lim: lim.withDefaults()}
	return m.run()
}

type machine struct {
	data  []byte
	pos   int
	lim   Limits
	proto int
	stack []Value
	marks []int
	memo  map[uint64]Value
	// op and opPos describe the opcode being executed, for errors.
	op    byte
	opPos int
}

func (m *machine) fail(err error) error {
	return &OpError{Op: m.op, Offset: m.opPos, Err: err}
}

func (m *machine) failf(format string, args ...any) error {
	return m.fail(fmt.Errorf("%w: "+format, append([]any{ErrMalformed}, args...)...))
}

func (m *machine) run() (Value, int, error) {
	for {
		if m.pos >= len(m.data) {
			m.op, m.opPos = opStop, len(m.data)
			return nil, 0, m.fail(fmt.Errorf("%w: input ended before STOP", ErrTruncated))
		}
		m.op = m.data[m.pos]
		m.opPos = m.pos
		m.pos++
		if m.op == opStop {
			v, err := m.pop()
			if err != nil {
				return nil, 0, err
			}
			return v, m.pos, nil
		}
		if err := m.step(); err != nil {
			return nil, 0, err
		}
	}
}

// ---- input ---------------------------------------------------------------------------------

func (m *machine) read(n uint64) ([]byte, error) {
	if n > uint64(len(m.data)-m.pos) {
		return nil, m.fail(fmt.Errorf("%w: need %d bytes, %d left", ErrTruncated, n, len(m.data)-m.pos))
	}
	b := m.data[m.pos : m.pos+int(n)]
	m.pos += int(n)
	return b, nil
}

func (m *machine) readByte() (byte, error) {
	b, err := m.read(1)
	if err != nil {
		return 0, err
	}
	return b[0], nil
}

func (m *machine) readUint16() (uint64, error) {
	b, err := m.read(2)
	if err != nil {
		return 0, err
	}
	return uint64(binary.LittleEndian.Uint16(b)), nil
}

func (m *machine) readUint32() (uint64, error) {
	b, err := m.read(4)
	if err != nil {
		return 0, err
	}
	return uint64(binary.LittleEndian.Uint32(b)), nil
}

func (m *machine) readUint64() (uint64, error) {
	b, err := m.read(8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

// readInt32Len reads a signed 4-byte length (BINSTRING, LONG4): negative is an error.
func (m *machine) readInt32Len() (uint64, error) {
	u, err := m.readUint32()
	if err != nil {
		return 0, err
	}
	n := int32(uint32(u))
	if n < 0 {
		return 0, m.failf("negative length %d", n)
	}
	return uint64(n), nil
}

// readLine returns the bytes up to (not including) the next '\n' and consumes the newline.
func (m *machine) readLine() ([]byte, error) {
	rest := m.data[m.pos:]
	for i, c := range rest {
		if c == '\n' {
			m.pos += i + 1
			return rest[:i], nil
		}
	}
	return nil, m.fail(fmt.Errorf("%w: line not terminated by newline", ErrTruncated))
}

// ---- stack ---------------------------------------------------------------------------------

func (m *machine) base() int {
	if len(m.marks) == 0 {
		return 0
	}
	return m.marks[len(m.marks)-1]
}

func (m *machine) push(v Value) error {
	if len(m.stack) >= m.lim.MaxStack {
		return m.fail(fmt.Errorf("%w: stack deeper than %d", ErrLimit, m.lim.MaxStack))
	}
	m.stack = append(m.stack, v)
	return nil
}

func (m *machine) pop() (Value, error) {
	if len(m.stack) <= m.base() {
		return nil, m.failf("stack underflow")
	}
	v := m.stack[len(m.stack)-1]
	m.stack[len(m.stack)-1] = nil
	m.stack = m.stack[:len(m.stack)-1]
	return v, nil
}

func (m *machine) top() (Value, error) {
	if len(m.stack) <= m.base() {
		return nil, m.failf("stack underflow")
	}
	return m.stack[len(m.stack)-1], nil
}

// popMark removes and returns (a copy of) the values above the innermost MARK.
func (m *machine) popMark() ([]Value, error) {
	if len(m.marks) == 0 {
		return nil, m.failf("could not find MARK")
	}
	b := m.marks[len(m.marks)-1]
	m.marks = m.marks[:len(m.marks)-1]
	items := make([]Value, len(m.stack)-b)
	copy(items, m.stack[b:])
	clear(m.stack[b:])
	m.stack = m.stack[:b]
	return items, nil
}

// ---- memo ----------------------------------------------------------------------------------

func (m *machine) memoPut(key uint64) error {
	v, err := m.top()
	if err != nil {
		return err
	}
	if m.memo == nil {
		m.memo = make(map[uint64]Value)
	}
	if _, exists := m.memo[key]; !exists && len(m.memo) >= m.lim.MaxMemo {
		return m.fail(fmt.Errorf("%w: more than %d memo entries", ErrLimit, m.lim.MaxMemo))
	}
	m.memo[key] = v
	return nil
}

func (m *machine) memoGet(key uint64) error {
	v, ok := m.memo[key]
	if !ok {
		return m.failf("memo key %d not found", key)
	}
	return m.push(v)
}

// memoKeyText parses the decimal argument of GET and PUT.
func (m *machine) memoKeyText() (uint64, error) {
	line, err := m.readLine()
	if err != nil {
		return 0, err
	}
	k, perr := strconv.ParseUint(strings.TrimSpace(string(line)), 10, 64)
	if perr != nil {
		return 0, m.failf("invalid memo key %q", truncate(line))
	}
	return k, nil
}

// ---- numbers -------------------------------------------------------------------------------

// normInt returns an int64 when x fits, else x.
func normInt(x *big.Int) Value {
	if x.IsInt64() {
		return x.Int64()
	}
	return x
}

func (m *machine) parseIntText(s string) (Value, error) {
	s = strings.TrimSpace(s)
	if len(s) > m.lim.MaxIntDigits {
		return nil, m.fail(fmt.Errorf("%w: integer text longer than %d digits", ErrLimit, m.lim.MaxIntDigits))
	}
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		return i, nil
	}
	x, ok := new(big.Int).SetString(s, 0)
	if !ok {
		return nil, m.failf("invalid integer %q", truncate([]byte(s)))
	}
	return normInt(x), nil
}

// decodeLong decodes LONG1/LONG4 little-endian two's complement bytes.
func decodeLong(b []byte) Value {
	switch n := len(b); {
	case n == 0:
		return int64(0)
	case n <= 8:
		var u uint64
		for i := n - 1; i >= 0; i-- {
			u = u<<8 | uint64(b[i])
		}
		shift := uint(64 - 8*n)
		return int64(u<<shift) >> shift // sign-extend
	}
	be := make([]byte, len(b))
	for i, c := range b {
		be[len(b)-1-i] = c
	}
	x := new(big.Int).SetBytes(be)
	if b[len(b)-1]&0x80 != 0 {
		x.Sub(x, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
	}
	return normInt(x)
}

// ---- strings -------------------------------------------------------------------------------

func truncate(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

// escapeDecode implements Python's codecs.escape_decode for the protocol-0 STRING opcode.
func escapeDecode(s []byte) ([]byte, error) {
	out := make([]byte, 0, len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' {
			out = append(out, c)
			continue
		}
		i++
		if i >= len(s) {
			return nil, errors.New("trailing backslash")
		}
		switch c = s[i]; c {
		case '\n':
		case '\\', '\'', '"':
			out = append(out, c)
		case 'a':
			out = append(out, 7)
		case 'b':
			out = append(out, 8)
		case 'f':
			out = append(out, 12)
		case 'n':
			out = append(out, '\n')
		case 'r':
			out = append(out, '\r')
		case 't':
			out = append(out, '\t')
		case 'v':
			out = append(out, 11)
		case 'x':
			if i+2 >= len(s) {
				return nil, errors.New("invalid \\x escape")
			}
			hi, ok1 := unhex(s[i+1])
			lo, ok2 := unhex(s[i+2])
			if !ok1 || !ok2 {
				return nil, errors.New("invalid \\x escape")
			}
			out = append(out, hi<<4|lo)
			i += 2
		case '0', '1', '2', '3', '4', '5', '6', '7':
			v := int(c - '0')
			for k := 0; k < 2 && i+1 < len(s) && s[i+1] >= '0' && s[i+1] <= '7'; k++ {
				i++
				v = v*8 + int(s[i]-'0')
			}
			out = append(out, byte(v))
		default:
			out = append(out, '\\', c)
		}
	}
	return out, nil
}

func unhex(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	case c >= 'A' && c <= 'F':
		return c - 'A' + 10, true
	}
	return 0, false
}

// rawUnicodeEscapeDecode implements Python's raw_unicode_escape codec (UNICODE opcode): bytes
// are Latin-1 code points, and \uXXXX / \UXXXXXXXX preceded by an odd number of backslashes
// are escapes.
func rawUnicodeEscapeDecode(s []byte) (string, error) {
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		c := s[i]
		if c != '\\' {
			b.WriteRune(rune(c))
			i++
			continue
		}
		j := i
		for j < len(s) && s[j] == '\\' {
			j++
		}
		n := j - i
		if n%2 == 0 || j >= len(s) || (s[j] != 'u' && s[j] != 'U') {
			b.WriteString(strings.Repeat("\\", n))
			i = j
			continue
		}
		b.WriteString(strings.Repeat("\\", n-1))
		count := 4
		if s[j] == 'U' {
			count = 8
		}
		j++
		if j+count > len(s) {
			return "", errors.New("truncated \\uXXXX escape")
		}
		var r rune
		for k := 0; k < count; k++ {
			d, ok := unhex(s[j+k])
			if !ok {
				return "", errors.New("truncated \\uXXXX escape")
			}
			r = r<<4 | rune(d)
		}
		if r > utf8.MaxRune || r < 0 {
			return "", errors.New("\\Uxxxxxxxx out of range")
		}
		b.WriteRune(r)
		i = j + count
	}
	return b.String(), nil
}

// importMapping is the module part of Python 3's fix_imports mapping for protocol < 3 GLOBALs,
// restricted to the modules that matter when reading Python 2 era pickles.
func importMapping(module string) string {
	switch module {
	case "__builtin__":
		return "builtins"
	case "copy_reg":
		return "copyreg"
	}
	return module
}

// stateHelper reports whether g is one of cloudpickle's state-setting helpers, which Python
// calls as helper(obj, state) purely for the side effect of setting obj's state.
func stateHelper(g Global) bool {
	switch g.Module {
	case "cloudpickle", "cloudpickle.cloudpickle", "cloudpickle.cloudpickle_fast":
		return g.Name == "_function_setstate" || g.Name == "_class_setstate"
	}
	return false
}

// setState applies state to obj the way BUILD does: dict states merge, others replace.
func setState(obj *Call, state Value) {
	if old, ok := obj.State.(*Dict); ok && obj.HasState {
		if upd, ok := state.(*Dict); ok {
			merged := &Dict{}
			for _, e := range old.entries {
				merged.Set(e.Key, e.Value)
			}
			for _, e := range upd.entries {
				merged.Set(e.Key, e.Value)
			}
			obj.State = merged
			return
		}
	}
	obj.State = state
	obj.HasState = true
}

// ---- opcodes -------------------------------------------------------------------------------

func (m *machine) step() error {
	switch m.op {
	case opProto:
		v, err := m.readByte()
		if err != nil {
			return err
		}
		if v > HighestProtocol {
			return m.fail(fmt.Errorf("%w: protocol %d", ErrUnsupported, v))
		}
		m.proto = int(v)
		return nil

	case opFrame:
		n, err := m.readUint64()
		if err != nil {
			return err
		}
		if n > uint64(len(m.data)-m.pos) {
			return m.fail(fmt.Errorf("%w: frame of %d bytes, %d left", ErrTruncated, n, len(m.data)-m.pos))
		}
		return nil

	case opMark:
		if len(m.marks) >= m.lim.MaxMarks {
			return m.fail(fmt.Errorf("%w: more than %d open MARKs", ErrLimit, m.lim.MaxMarks))
		}
		m.marks = append(m.marks, len(m.stack))
		return nil

	case opPop:
		if len(m.stack) > m.base() {
			_, err := m.pop()
			return err
		}
		// CPython: POP on an empty stack frame discards the MARK.
		_, err := m.popMark()
		return err

	case opPopMark:
		_, err := m.popMark()
		return err

	case opDup:
		v, err := m.top()
		if err != nil {
			return err
		}
		return m.push(v)

	case opNone:
		return m.push(nil)
	case opNewTrue:
		return m.push(true)
	case opNewFalse:
		return m.push(false)

	case opInt:
		line, err := m.readLine()
		if err != nil {
			return err
		}
		switch string(line) {
		case "00":
			return m.push(false)
		case "01":
			return m.push(true)
		}
		v, err := m.parseIntText(string(line))
		if err != nil {
			return err
		}
		return m.push(v)

	case opLong:
		line, err := m.readLine()
		if err != nil {
			return err
		}
		s := strings.TrimSuffix(strings.TrimSpace(string(line)), "L")
		v, err := m.parseIntText(s)
		if err != nil {
			return err
		}
		return m.push(v)

	case opBinInt:
		u, err := m.readUint32()
		if err != nil {
			return err
		}
		return m.push(int64(int32(uint32(u))))

	case opBinInt1:
		b, err := m.readByte()
		if err != nil {
			return err
		}
		return m.push(int64(b))

	case opBinInt2:
		u, err := m.readUint16()
		if err != nil {
			return err
		}
		return m.push(int64(u))

	case opLong1, opLong4:
		var n uint64
		var err error
		if m.op == opLong1 {
			var b byte
			b, err = m.readByte()
			n = uint64(b)
		} else {
			n, err = m.readInt32Len()
		}
		if err != nil {
			return err
		}
		b, err := m.read(n)
		if err != nil {
			return err
		}
		return m.push(decodeLong(b))

	case opFloat:
		line, err := m.readLine()
		if err != nil {
			return err
		}
		f, perr := strconv.ParseFloat(strings.TrimSpace(string(line)), 64)
		if perr != nil && !errors.Is(perr, strconv.ErrRange) {
			return m.failf("invalid float %q", truncate(line))
		}
		return m.push(f)

	case opBinFloat:
		b, err := m.read(8)
		if err != nil {
			return err
		}
		return m.push(math.Float64frombits(binary.BigEndian.Uint64(b)))

	case opString:
		line, err := m.readLine()
		if err != nil {
			return err
		}
		if len(line) < 2 || line[0] != line[len(line)-1] || (line[0] != '\'' && line[0] != '"') {
			return m.failf("the STRING opcode argument must be quoted")
		}
		s, derr := escapeDecode(line[1 : len(line)-1])
		if derr != nil {
			return m.failf("%v", derr)
		}
		return m.push(string(s))

	case opBinString, opShortBinString, opBinUnicode, opShortBinUnicode, opBinUnicode8,
		opBinBytes, opShortBinBytes, opBinBytes8, opByteArray8:
		return m.loadCounted()

	case opUnicode:
		line, err := m.readLine()
		if err != nil {
			return err
		}
		s, derr := rawUnicodeEscapeDecode(line)
		if derr != nil {
			return m.failf("%v", derr)
		}
		return m.push(s)

	case opEmptyTuple:
		return m.push(Tuple{})

	case opTuple:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		return m.push(Tuple(items))

	case opTuple1, opTuple2, opTuple3:
		n := int(m.op-opTuple1) + 1
		if len(m.stack)-m.base() < n {
			return m.failf("stack underflow")
		}
		t := make(Tuple, n)
		copy(t, m.stack[len(m.stack)-n:])
		clear(m.stack[len(m.stack)-n:])
		m.stack = m.stack[:len(m.stack)-n]
		return m.push(t)

	case opEmptyList:
		return m.push(&List{})

	case opList:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		return m.push(&List{Items: items})

	case opAppend:
		v, err := m.pop()
		if err != nil {
			return err
		}
		return m.appendTo([]Value{v})

	case opAppends:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		return m.appendTo(items)

	case opEmptyDict:
		return m.push(&Dict{})

	case opDict:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		if len(items)%2 != 0 {
			return m.failf("odd number of items for DICT")
		}
		d := &Dict{}
		for i := 0; i < len(items); i += 2 {
			d.Set(items[i], items[i+1])
		}
		return m.push(d)

	case opSetItem:
		v, err := m.pop()
		if err != nil {
			return err
		}
		k, err := m.pop()
		if err != nil {
			return err
		}
		return m.setItems([]Value{k, v})

	case opSetItems:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		if len(items)%2 != 0 {
			return m.failf("odd number of items for SETITEMS")
		}
		return m.setItems(items)

	case opEmptySet:
		return m.push(&Set{})

	case opAddItems:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		t, err := m.top()
		if err != nil {
			return err
		}
		s, ok := t.(*Set)
		if !ok || s.Frozen {
			return m.failf("ADDITEMS on %s", typeName(t))
		}
		for _, it := range items {
			s.add(it)
		}
		return nil

	case opFrozenSet:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		s := &Set{Frozen: true}
		for _, it := range items {
			s.add(it)
		}
		return m.push(s)

	case opGlobal:
		mod, err := m.readLine()
		if err != nil {
			return err
		}
		name, err := m.readLine()
		if err != nil {
			return err
		}
		g := Global{Module: string(mod), Name: string(name)}
		if m.proto < 3 {
			g.Module = importMapping(g.Module)
		}
		return m.push(g)

	case opStackGlobal:
		name, err := m.pop()
		if err != nil {
			return err
		}
		mod, err := m.pop()
		if err != nil {
			return err
		}
		ms, ok1 := mod.(string)
		ns, ok2 := name.(string)
		if !ok1 || !ok2 {
			return m.failf("STACK_GLOBAL requires str, got %s and %s", typeName(mod), typeName(name))
		}
		return m.push(Global{Module: ms, Name: ns})

	case opInst:
		mod, err := m.readLine()
		if err != nil {
			return err
		}
		name, err := m.readLine()
		if err != nil {
			return err
		}
		items, err := m.popMark()
		if err != nil {
			return err
		}
		g := Global{Module: string(mod), Name: string(name)}
		if m.proto < 3 {
			g.Module = importMapping(g.Module)
		}
		return m.push(&Call{Callable: g, Args: Tuple(items)})

	case opObj:
		items, err := m.popMark()
		if err != nil {
			return err
		}
		if len(items) == 0 {
			return m.failf("OBJ without a class")
		}
		return m.push(&Call{Callable: items[0], Args: Tuple(items[1:])})

	case opReduce:
		args, err := m.pop()
		if err != nil {
			return err
		}
		fn, err := m.pop()
		if err != nil {
			return err
		}
		c := &Call{Callable: fn, Args: args}
		if g, ok := fn.(Global); ok && stateHelper(g) {
			if t, ok := args.(Tuple); ok && len(t) == 2 {
				if obj, ok := t[0].(*Call); ok {
					setState(obj, t[1])
				}
			}
		}
		return m.push(c)

	case opNewObj:
		args, err := m.pop()
		if err != nil {
			return err
		}
		cls, err := m.pop()
		if err != nil {
			return err
		}
		return m.push(&Call{Callable: cls, Args: args, New: true})

	case opNewObjEx:
		kwargs, err := m.pop()
		if err != nil {
			return err
		}
		args, err := m.pop()
		if err != nil {
			return err
		}
		cls, err := m.pop()
		if err != nil {
			return err
		}
		return m.push(&Call{Callable: cls, Args: args, Kwargs: kwargs, New: true})

	case opBuild:
		state, err := m.pop()
		if err != nil {
			return err
		}
		t, err := m.top()
		if err != nil {
			return err
		}
		obj, ok := t.(*Call)
		if !ok {
			return m.failf("BUILD on %s", typeName(t))
		}
		setState(obj, state)
		return nil

	case opGet:
		k, err := m.memoKeyText()
		if err != nil {
			return err
		}
		return m.memoGet(k)

	case opBinGet:
		b, err := m.readByte()
		if err != nil {
			return err
		}
		return m.memoGet(uint64(b))

	case opLongBinGet:
		k, err := m.readUint32()
		if err != nil {
			return err
		}
		return m.memoGet(k)

	case opPut:
		k, err := m.memoKeyText()
		if err != nil {
			return err
		}
		return m.memoPut(k)

	case opBinPut:
		b, err := m.readByte()
		if err != nil {
			return err
		}
		return m.memoPut(uint64(b))

	case opLongBinPut:
		k, err := m.readUint32()
		if err != nil {
			return err
		}
		return m.memoPut(k)

	case opMemoize:
		return m.memoPut(uint64(len(m.memo)))

	case opPersID, opBinPersID:
		return m.fail(fmt.Errorf("%w: persistent IDs", ErrUnsupported))
	case opExt1, opExt2, opExt4:
		return m.fail(fmt.Errorf("%w: extension registry", ErrUnsupported))
	case opNextBuffer, opReadonlyBuffer:
		return m.fail(fmt.Errorf("%w: out-of-band buffers", ErrUnsupported))
	}
	return m.failf("invalid opcode")
}

// loadCounted handles the length-prefixed string and bytes opcodes.
func (m *machine) loadCounted() error {
	var n uint64
	var err error
	switch m.op {
	case opShortBinString, opShortBinUnicode, opShortBinBytes:
		var b byte
		b, err = m.readByte()
		n = uint64(b)
	case opBinString:
		n, err = m.readInt32Len()
	case opBinUnicode, opBinBytes:
		n, err = m.readUint32()
	default: // opBinUnicode8, opBinBytes8, opByteArray8
		n, err = m.readUint64()
	}
	if err != nil {
		return err
	}
	b, err := m.read(n)
	if err != nil {
		return err
	}
	switch m.op {
	case opBinBytes, opShortBinBytes, opBinBytes8:
		return m.push(Bytes(append([]byte(nil), b...)))
	case opByteArray8:
		return m.push(ByteArray(append([]byte(nil), b...)))
	}
	return m.push(string(b))
}

func (m *machine) appendTo(items []Value) error {
	t, err := m.top()
	if err != nil {
		return err
	}
	switch x := t.(type) {
	case *List:
		x.Items = append(x.Items, items...)
	case *Call:
		x.ListItems = append(x.ListItems, items...)
	default:
		return m.failf("append to %s", typeName(t))
	}
	return nil
}

func (m *machine) setItems(kv []Value) error {
	t, err := m.top()
	if err != nil {
		return err
	}
	var d *Dict
	switch x := t.(type) {
	case *Dict:
		d = x
	case *Call:
		if x.DictItems == nil {
			x.DictItems = &Dict{}
		}
		d = x.DictItems
	default:
		return m.failf("set item on %s", typeName(t))
	}
	for i := 0; i+1 < len(kv); i += 2 {
		d.Set(kv[i], kv[i+1])
	}
	return nil
}

// typeName names the Python type of a value, for error messages.
func typeName(v Value) string {
	switch v.(type) {
	case nil:
		return "None"
	case bool:
		return "bool"
	case int64, *big.Int:
		return "int"
	case float64:
		return "float"
	case string:
		return "str"
	case Bytes:
		return "bytes"
	case ByteArray:
		return "bytearray"
	case Tuple:
		return "tuple"
	case *List:
		return "list"
	case *Dict:
		return "dict"
	case *Set:
		return "set"
	case Global:
		return "global"
	case *Call:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}
