package pickle

import "fmt"

// Pickle opcodes (CPython Lib/pickle.py, protocols 0-5).
const (
	opMark           byte = '('
	opStop           byte = '.'
	opPop            byte = '0'
	opPopMark        byte = '1'
	opDup            byte = '2'
	opFloat          byte = 'F'
	opInt            byte = 'I'
	opBinInt         byte = 'J'
	opBinInt1        byte = 'K'
	opLong           byte = 'L'
	opBinInt2        byte = 'M'
	opNone           byte = 'N'
	opPersID         byte = 'P'
	opBinPersID      byte = 'Q'
	opReduce         byte = 'R'
	opString         byte = 'S'
	opBinString      byte = 'T'
	opShortBinString byte = 'U'
	opUnicode        byte = 'V'
	opBinUnicode     byte = 'X'
	opAppend         byte = 'a'
	opBuild          byte = 'b'
	opGlobal         byte = 'c'
	opDict           byte = 'd'
	opEmptyDict      byte = '}'
	opAppends        byte = 'e'
	opGet            byte = 'g'
	opBinGet         byte = 'h'
	opInst           byte = 'i'
	opLongBinGet     byte = 'j'
	opList           byte = 'l'
	opEmptyList      byte = ']'
	opObj            byte = 'o'
	opPut            byte = 'p'
	opBinPut         byte = 'q'
	opLongBinPut     byte = 'r'
	opSetItem        byte = 's'
	opTuple          byte = 't'
	opEmptyTuple     byte = ')'
	opSetItems       byte = 'u'
	opBinFloat       byte = 'G'

	// Protocol 2.
	opProto    byte = 0x80
	opNewObj   byte = 0x81
	opExt1     byte = 0x82
	opExt2     byte = 0x83
	opExt4     byte = 0x84
	opTuple1   byte = 0x85
	opTuple2   byte = 0x86
	opTuple3   byte = 0x87
	opNewTrue  byte = 0x88
	opNewFalse byte = 0x89
	opLong1    byte = 0x8a
	opLong4    byte = 0x8b

	// Protocol 3.
	opBinBytes      byte = 'B'
	opShortBinBytes byte = 'C'

	// Protocol 4.
	opShortBinUnicode byte = 0x8c
	opBinUnicode8     byte = 0x8d
	opBinBytes8       byte = 0x8e
	opEmptySet        byte = 0x8f
	opAddItems        byte = 0x90
	opFrozenSet       byte = 0x91
	opNewObjEx        byte = 0x92
	opStackGlobal     byte = 0x93
	opMemoize         byte = 0x94
	opFrame           byte = 0x95

	// Protocol 5.
	opByteArray8     byte = 0x96
	opNextBuffer     byte = 0x97
	opReadonlyBuffer byte = 0x98
)

// HighestProtocol is the highest pickle protocol the unpickler accepts.
const HighestProtocol = 5

// OpName returns the pickletools name of opcode op ("BINGET"), or "0x.." for bytes that are
// not opcodes.
func OpName(op byte) string {
	switch op {
	case opMark:
		return "MARK"
	case opStop:
		return "STOP"
	case opPop:
		return "POP"
	case opPopMark:
		return "POP_MARK"
	case opDup:
		return "DUP"
	case opFloat:
		return "FLOAT"
	case opInt:
		return "INT"
	case opBinInt:
		return "BININT"
	case opBinInt1:
		return "BININT1"
	case opLong:
		return "LONG"
	case opBinInt2:
		return "BININT2"
	case opNone:
		return "NONE"
	case opPersID:
		return "PERSID"
	case opBinPersID:
		return "BINPERSID"
	case opReduce:
		return "REDUCE"
	case opString:
		return "STRING"
	case opBinString:
		return "BINSTRING"
	case opShortBinString:
		return "SHORT_BINSTRING"
	case opUnicode:
		return "UNICODE"
	case opBinUnicode:
		return "BINUNICODE"
	case opAppend:
		return "APPEND"
	case opBuild:
		return "BUILD"
	case opGlobal:
		return "GLOBAL"
	case opDict:
		return "DICT"
	case opEmptyDict:
		return "EMPTY_DICT"
	case opAppends:
		return "APPENDS"
	case opGet:
		return "GET"
	case opBinGet:
		return "BINGET"
	case opInst:
		return "INST"
	case opLongBinGet:
		return "LONG_BINGET"
	case opList:
		return "LIST"
	case opEmptyList:
		return "EMPTY_LIST"
	case opObj:
		return "OBJ"
	case opPut:
		return "PUT"
	case opBinPut:
		return "BINPUT"
	case opLongBinPut:
		return "LONG_BINPUT"
	case opSetItem:
		return "SETITEM"
	case opTuple:
		return "TUPLE"
	case opEmptyTuple:
		return "EMPTY_TUPLE"
	case opSetItems:
		return "SETITEMS"
	case opBinFloat:
		return "BINFLOAT"
	case opProto:
		return "PROTO"
	case opNewObj:
		return "NEWOBJ"
	case opExt1:
		return "EXT1"
	case opExt2:
		return "EXT2"
	case opExt4:
		return "EXT4"
	case opTuple1:
		return "TUPLE1"
	case opTuple2:
		return "TUPLE2"
	case opTuple3:
		return "TUPLE3"
	case opNewTrue:
		return "NEWTRUE"
	case opNewFalse:
		return "NEWFALSE"
	case opLong1:
		return "LONG1"
	case opLong4:
		return "LONG4"
	case opBinBytes:
		return "BINBYTES"
	case opShortBinBytes:
		return "SHORT_BINBYTES"
	case opShortBinUnicode:
		return "SHORT_BINUNICODE"
	case opBinUnicode8:
		return "BINUNICODE8"
	case opBinBytes8:
		return "BINBYTES8"
	case opEmptySet:
		return "EMPTY_SET"
	case opAddItems:
		return "ADDITEMS"
	case opFrozenSet:
		return "FROZENSET"
	case opNewObjEx:
		return "NEWOBJ_EX"
	case opStackGlobal:
		return "STACK_GLOBAL"
	case opMemoize:
		return "MEMOIZE"
	case opFrame:
		return "FRAME"
	case opByteArray8:
		return "BYTEARRAY8"
	case opNextBuffer:
		return "NEXT_BUFFER"
	case opReadonlyBuffer:
		return "READONLY_BUFFER"
	}
	return fmt.Sprintf("0x%02x", op)
}
