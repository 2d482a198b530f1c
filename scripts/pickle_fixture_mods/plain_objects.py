"""Plain Python classes whose pickles exercise the object opcodes (NEWOBJ, NEWOBJ_EX, BUILD with
slot state, REDUCE via __reduce__, list/dict subclasses) at every protocol."""


class Point(object):
    def __init__(self, x, y):
        self.x = x
        self.y = y


class Slotted(object):
    __slots__ = ('a', 'b')

    def __init__(self, a, b):
        self.a = a
        self.b = b


class Reduced(object):
    def __init__(self, v):
        self.v = v

    def __reduce__(self):
        return (Point, (self.v, -self.v))


class KwOnly(object):
    def __new__(cls, *, size):
        o = object.__new__(cls)
        o.size = size
        return o

    def __getnewargs_ex__(self):
        return ((), {'size': self.size})


class TaggedList(list):
    def __init__(self, items, tag):
        super().__init__(items)
        self.tag = tag


class TaggedDict(dict):
    pass
