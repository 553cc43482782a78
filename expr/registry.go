package expr

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// FunctionDoc documents one function or operator for \help and completion.
type FunctionDoc struct {
	Name        string
	Signature   string
	Description string
	Example     string
}

// resolveFunc checks and coerces the arguments of a call and returns the
// coerced arguments and the result type.
type resolveFunc func(name string, args []Expr) ([]Expr, arrow.DataType, error)

// compileFunc builds the evaluator of a resolved call; args are compiled
// already (constants are *constEval).
type compileFunc func(c *Call, args []Evaluator, mem memory.Allocator) (Evaluator, error)

type funcDef struct {
	doc     FunctionDoc
	resolve resolveFunc
	compile compileFunc
}

var registry = map[string]*funcDef{}

// aliases map alternative names onto registered ones.
var aliases = map[string]string{}

func register(name string, doc FunctionDoc, r resolveFunc, c compileFunc) {
	doc.Name = name
	registry[name] = &funcDef{doc: doc, resolve: r, compile: c}
}

func alias(name, target string) { aliases[name] = target }

func lookup(name string) (*funcDef, string, bool) {
	n := strings.ToLower(name)
	if t, ok := aliases[n]; ok {
		n = t
	}
	d, ok := registry[n]
	return d, n, ok
}

// Functions lists every function and operator with its documentation,
// sorted by name.
func Functions() []FunctionDoc {
	out := make([]FunctionDoc, 0, len(registry)+len(aliases))
	for _, d := range registry {
		out = append(out, d.doc)
	}
	for a, t := range aliases {
		doc := registry[t].doc
		doc.Name = a
		doc.Description = "Synonym for " + strings.ToUpper(t) + ". " + doc.Description
		out = append(out, doc)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// NewCall resolves a call of a function or operator by lower-case SQL name
// (see Functions), coercing arguments with MySQL's implicit conversions and
// computing the result type. Unknown names give `unknown function "foo"`;
// argument problems give errors naming the function and the type.
func NewCall(name string, args ...Expr) (Expr, error) {
	def, canon, ok := lookup(name)
	if !ok {
		return nil, &Error{Msg: fmt.Sprintf("unknown function %q", name)}
	}
	for i, a := range args {
		if a == nil {
			return nil, errorf(canon, "argument %d is missing", i+1)
		}
	}
	args, err := typedArgs(args)
	if err != nil {
		return nil, err
	}
	args = undict(args)
	cargs, t, err := def.resolve(canon, args)
	if err != nil {
		return nil, err
	}
	return &Call{Name: canon, Args: cargs, T: t}, nil
}

func compileCall(c *Call, mem memory.Allocator) (Evaluator, error) {
	return compileCallOpts(c, mem, fuseEnabled)
}

func compileCallOpts(c *Call, mem memory.Allocator, allowFuse bool) (Evaluator, error) {
	def, canon, ok := lookup(c.Name)
	if !ok {
		return nil, &Error{Msg: fmt.Sprintf("unknown function %q", c.Name)}
	}
	targs, err := typedArgs(c.Args)
	if err != nil {
		return nil, err
	}
	cargs, t, err := def.resolve(canon, undict(targs))
	if err != nil {
		return nil, err
	}
	resolved := &Call{Name: canon, Args: cargs, T: t}
	if fusable[canon] && allowFuse {
		fe, err := tryFuse(resolved, mem)
		if err != nil {
			return nil, err
		}
		if fe != nil {
			if c.T != nil && !arrow.TypeEqual(c.T, t) {
				return newCastEval(fe, t, c.T, mem)
			}
			return fe, nil
		}
	}
	args, err := compileAll(cargs, mem)
	if err != nil {
		return nil, err
	}
	ev, err := def.compile(resolved, args, mem)
	if err != nil {
		return nil, err
	}
	if c.T != nil && !arrow.TypeEqual(c.T, t) {
		// The caller fixed a different result type (e.g. a rewritten tree):
		// honour it with a cast.
		return newCastEval(ev, t, c.T, mem)
	}
	return ev, nil
}

// fuseEnabled lets tests compare fused and unfused evaluation.
var fuseEnabled = true

var fusable = map[string]bool{"+": true, "-": true, "*": true, "/": true, "neg": true}

// typedArgs resolves hand-built sub-calls that carry no type yet.
func typedArgs(args []Expr) ([]Expr, error) {
	var out []Expr
	for i, a := range args {
		if a.Type() != nil {
			continue
		}
		var r Expr
		var err error
		switch n := a.(type) {
		case *Call:
			r, err = NewCall(n.Name, n.Args...)
		case *Case:
			r, err = NewCase(n.Whens, n.Else)
		case *Field:
			r, err = NewField(n.Arg, n.Name)
		default:
			err = &Error{Msg: fmt.Sprintf("expression %s has no type", a.String())}
		}
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = append([]Expr(nil), args...)
		}
		out[i] = r
	}
	if out == nil {
		return args, nil
	}
	return out, nil
}

// undict replaces dictionary-encoded arguments by casts to their value
// type, so functions see plain strings/numbers.
func undict(args []Expr) []Expr {
	var out []Expr
	for i, a := range args {
		if d, ok := a.Type().(*arrow.DictionaryType); ok {
			if out == nil {
				out = append([]Expr(nil), args...)
			}
			out[i] = &Cast{Arg: a, T: d.ValueType}
		}
	}
	if out == nil {
		return args
	}
	return out
}

// coerce converts e to t: no-op when already t, folded for literals,
// otherwise a Cast node.
func coerce(e Expr, t arrow.DataType) (Expr, error) {
	if arrow.TypeEqual(e.Type(), t) {
		return e, nil
	}
	return NewCast(e, t)
}

// foldLiteralCast casts a literal at resolve time.
func foldLiteralCast(l *Literal, t arrow.DataType) (*Literal, error) {
	if l.Value == nil {
		return &Literal{Value: nil, T: t}, nil
	}
	mem := memory.DefaultAllocator
	in, err := literalArray(mem, l, 1)
	if err != nil {
		return nil, err
	}
	defer in.Release()
	out, err := castArray(context.Background(), in, t, mem)
	if err != nil {
		return nil, err
	}
	defer out.Release()
	return &Literal{Value: Scalar(out, 0), T: t}, nil
}

// argTypeError is the standard "cannot take argument" error.
func argTypeError(fn string, i int, t arrow.DataType) error {
	return errorf(fn, "cannot take argument %d of type %s", i+1, TypeName(t))
}

func arity(fn string, args []Expr, min, max int) error {
	if len(args) < min || (max >= 0 && len(args) > max) {
		switch {
		case min == max:
			return errorf(fn, "takes %d arguments, got %d", min, len(args))
		case max < 0:
			return errorf(fn, "takes at least %d arguments, got %d", min, len(args))
		default:
			return errorf(fn, "takes %d to %d arguments, got %d", min, max, len(args))
		}
	}
	return nil
}

// fixedArgs returns a resolver that coerces each argument to the given
// type (the last type repeats for variadic tails) and returns result t.
func fixedArgs(min, max int, t arrow.DataType, types ...arrow.DataType) resolveFunc {
	return func(name string, args []Expr) ([]Expr, arrow.DataType, error) {
		if err := arity(name, args, min, max); err != nil {
			return nil, nil, err
		}
		out := make([]Expr, len(args))
		for i, a := range args {
			want := types[min2(i, len(types)-1)]
			c, err := coerceArg(name, i, a, want)
			if err != nil {
				return nil, nil, err
			}
			out[i] = c
		}
		return out, t, nil
	}
}

func min2(a, b int) int {
	if a < b {
		return a
	}
	return b
}

// coerceArg coerces argument i of fn to want, with the function-named
// error when no implicit conversion exists.
func coerceArg(fn string, i int, a Expr, want arrow.DataType) (Expr, error) {
	if arrow.TypeEqual(a.Type(), want) {
		return a, nil
	}
	if !implicitOK(a.Type(), want) {
		return nil, argTypeError(fn, i, a.Type())
	}
	c, err := NewCast(a, want)
	if err != nil {
		return nil, errorf(fn, "argument %d: %v", i+1, err)
	}
	return c, nil
}

// implicitOK says whether MySQL would convert from → to implicitly in a
// function argument.
func implicitOK(from, to arrow.DataType) bool {
	switch {
	case isNull(from):
		return true
	case isStringy(to) || isBinaryish(to):
		return !isNested(from)
	case isNumeric(to) || isBool(to):
		return isNumeric(from) || isBool(from) || isStringy(from) || isBinaryish(from)
	case isTemporal(to):
		return isTemporal(from) || isStringy(from) || isBinaryish(from)
	}
	return arrow.TypeEqual(from, to)
}

func isNested(t arrow.DataType) bool {
	switch t.ID() {
	case arrow.STRUCT, arrow.LIST, arrow.LARGE_LIST, arrow.FIXED_SIZE_LIST, arrow.MAP:
		return true
	}
	return false
}
