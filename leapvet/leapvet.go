// Package leapvet is a static analyser (golang.org/x/tools/go/analysis) for
// the bug class that made leap seconds dangerous: a duration computed from
// wall-clock readings goes negative or zero when the clock is stepped or a
// leap second is inserted, and flows into something that then panics or
// misbehaves.
//
// Since Go 1.9, time.Now() carries a monotonic clock reading and Sub, Since
// and Until use it, so start := time.Now(); ...; time.Since(start) is safe.
// The monotonic reading is silently dropped by .UTC(), .Local(), .In(),
// .Round(), .Truncate() and .AddDate(), and values made by time.Unix,
// time.UnixMilli, time.UnixMicro, time.Date, time.Parse and
// time.ParseInLocation never have one; Unix/UnixNano/UnixMilli/UnixMicro
// integers are wall-clock readings too.
//
// Sources (in one function): Sub, Since and Until where an operand has no
// monotonic reading, and differences of Unix/UnixNano/UnixMilli/UnixMicro
// integers, carried through local variables, conversions, multiplication and
// division, and the number methods of time.Duration.
//
// Sinks: math/rand's Int63n, Intn and Int31n and math/rand/v2's IntN,
// Int64N, Int32N, Uint64N and N (also as methods of *rand.Rand), which panic
// unless their argument is positive; time.NewTicker and (*time.Ticker).Reset,
// which panic unless the duration is positive; make sizes; slice, array and
// string indexes and slice bounds; conversions to unsigned integers, which
// wrap a negative value around; integer divisions and remainders by the
// value, which panic on zero.
//
// Precision over recall: a value that is compared with anything (if d <= 0,
// d < min, ...) or passed to max anywhere in the function is taken as
// guarded, and nothing is tracked across functions or through struct
// fields. Where the fix is mechanical (rand, make, unsigned conversions), the
// diagnostic suggests clamping with max.
package leapvet

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"go/version"
	"iter"
	"strings"

	"golang.org/x/tools/go/analysis"
	"golang.org/x/tools/go/analysis/passes/inspect"
	"golang.org/x/tools/go/ast/inspector"
	"golang.org/x/tools/go/types/typeutil"
)

// Analyzer reports wall-clock durations that a clock step or leap second can
// make negative or zero, where they reach code that then breaks.
var Analyzer = &analysis.Analyzer{
	Name:      "leapvet",
	Doc:       doc,
	URL:       "https://github.com/leapsmear/leapsmear/blob/main/docs/leapvet.md",
	Requires:  []*analysis.Analyzer{inspect.Analyzer},
	Run:       run,
	FactTypes: []analysis.Fact{(*noMonoFact)(nil), (*unixFact)(nil), (*durFact)(nil), (*paramSinkFact)(nil)},
}

// inventory makes the analyser also report every wall-clock duration it
// finds, whether or not it reaches a sink (-sources).
var inventory bool

func init() {
	Analyzer.Flags.BoolVar(&inventory, "sources", false,
		"also report every wall-clock duration found, reaching a sink or not (an inventory for an audit)")
}

const doc = `report wall-clock durations that a clock step or leap second can make negative

leapvet finds durations computed from wall-clock readings (Sub, Since or Until
on a time without a monotonic reading, such as one from .UTC(), time.Unix or
time.Parse, or a difference of Unix/UnixNano integers) that reach rand.Int63n
and its kin, time.NewTicker or Ticker.Reset, make, an index, a conversion to an
unsigned integer or an integer division unguarded. Keep the time.Now() value,
whose monotonic reading makes Sub and Since safe, or clamp the value first.
A value compared with anything, or passed to max, is taken as guarded.

Examples:

  leapvet ./...                        report; exit status 3 when it finds something
  leapvet -test=false ./...            leave test files out
  leapvet -fix -diff ./...             show the suggested clamps (max(d, 1)) as a diff
  leapvet -fix ./pkg/...               apply them
  go vet -vettool=$(command -v leapvet) ./...

Exit status: 0 nothing found, 3 findings, 1 packages that do not load, 2 a
mistake on the command line. See docs/leapvet.md.`

func run(pass *analysis.Pass) (any, error) {
	if isStd(pass.Pkg.Path()) {
		// The sources and sinks of the standard library are built in;
		// analysing it would only slow every run down.
		return nil, nil
	}
	ins := pass.ResultOf[inspect.Analyzer].(*inspector.Inspector)
	var funcs []funcBody
	for c := range ins.Root().Preorder((*ast.FuncDecl)(nil), (*ast.FuncLit)(nil)) {
		switch f := c.Node().(type) {
		case *ast.FuncDecl:
			if f.Body != nil {
				fn, _ := pass.TypesInfo.Defs[f.Name].(*types.Func)
				funcs = append(funcs, funcBody{fn: fn, typ: f.Type, body: f.Body})
			}
		case *ast.FuncLit:
			// Function literals are analysed with the function around
			// them; only those outside any function are analysed alone.
			if _, inside := first(c.Parent().Enclosing((*ast.FuncDecl)(nil), (*ast.FuncLit)(nil))); !inside {
				funcs = append(funcs, funcBody{typ: f.Type, body: f.Body})
			}
		}
	}
	// Facts about struct fields and function results hold when every value
	// the package gives them has no monotonic reading (or is a Unix
	// reading); a fact can make more facts, so a few rounds.
	facts := newPkgFacts()
	for range 3 {
		obs := newObservations()
		for _, f := range funcs {
			a := newFuncAnalysis(pass, f.body, facts)
			a.solve()
			a.observe(f, obs)
		}
		obs.disqualify(pass, funcs)
		changed := facts.update(obs)
		for _, f := range funcs {
			if ps := paramSinks(pass, f, facts); ps != nil && facts.paramSink[f.fn] == nil {
				facts.paramSink[f.fn], changed = ps, true
			}
		}
		if !changed {
			break
		}
	}
	for _, f := range funcs {
		a := newFuncAnalysis(pass, f.body, facts)
		a.solve()
		a.report()
	}
	facts.export(pass)
	return nil, nil
}

// funcBody is a function to analyse: a declared one (fn set) or a literal
// outside any function.
type funcBody struct {
	fn   *types.Func
	typ  *ast.FuncType
	body *ast.BlockStmt
}

// isStd reports whether a package path is in the standard library: its
// first element has no dot.
func isStd(path string) bool {
	first, _, _ := strings.Cut(path, "/")
	return !strings.Contains(first, ".")
}

// first returns the first value of a sequence, if any.
func first[T any](seq iter.Seq[T]) (T, bool) {
	for v := range seq {
		return v, true
	}
	var zero T
	return zero, false
}

// origin says where a value comes from, for the diagnostic.
type origin struct {
	what string    // "time.Unix", ".UTC()", ...
	pos  token.Pos // where
	// epoch marks a fixed instant (time.Date or time.Unix of constants):
	// a difference with it converts a time to another epoch, it is not
	// elapsed time that a clock step could make negative.
	epoch bool
	// from holds the variables the value was computed from (a time.Date
	// built from now's fields, now.Truncate(h)): a difference with one of
	// them is fixed by construction, not by the clock.
	from map[*types.Var]bool
}

// taint is a hazardous duration: why it can be negative or zero.
type taint struct {
	why string
	fix string
	// param is the index of the parameter the value comes from while
	// working out which parameters of a function reach a sink; -1 else.
	param int
}

// assignment is one value given to a local variable.
type assignment struct {
	v     *types.Var
	rhs   ast.Expr
	tuple bool // rhs is a call whose first result v takes
}

type funcAnalysis struct {
	pass    *analysis.Pass
	facts   *pkgFacts
	body    *ast.BlockStmt
	assigns []assignment
	guarded map[*types.Var]bool
	noMono  map[*types.Var]*origin // times that may lack a monotonic reading
	unix    map[*types.Var]*origin // integers holding a Unix reading
	dur     map[*types.Var]*taint  // hazardous durations
	done    map[ast.Expr]bool      // sink operands already reported
	// sinks, when not nil, collects the sinks that parameters reach
	// instead of reporting them: parameter index to what breaks.
	sinks map[int]string
}

func newFuncAnalysis(pass *analysis.Pass, body *ast.BlockStmt, facts *pkgFacts) *funcAnalysis {
	a := &funcAnalysis{
		pass:    pass,
		facts:   facts,
		body:    body,
		guarded: map[*types.Var]bool{},
		noMono:  map[*types.Var]*origin{},
		unix:    map[*types.Var]*origin{},
		dur:     map[*types.Var]*taint{},
		done:    map[ast.Expr]bool{},
	}
	ast.Inspect(body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.AssignStmt:
			a.collectAssign(n.Lhs, n.Rhs, n.Tok)
		case *ast.ValueSpec:
			lhs := make([]ast.Expr, len(n.Names))
			for i, id := range n.Names {
				lhs[i] = id
			}
			a.collectAssign(lhs, n.Values, token.DEFINE)
		case *ast.BinaryExpr:
			switch n.Op {
			case token.LSS, token.LEQ, token.GTR, token.GEQ, token.EQL, token.NEQ:
				a.markGuarded(n.X)
				a.markGuarded(n.Y)
			}
		case *ast.CallExpr:
			if isBuiltin(pass.TypesInfo, n, "max") {
				for _, arg := range n.Args {
					a.markGuarded(arg)
				}
			}
		}
		return true
	})
	return a
}

func (a *funcAnalysis) collectAssign(lhs, rhs []ast.Expr, tok token.Token) {
	if tok != token.ASSIGN && tok != token.DEFINE {
		return
	}
	switch {
	case len(lhs) == len(rhs):
		for i := range lhs {
			if v := a.localVar(lhs[i]); v != nil {
				a.assigns = append(a.assigns, assignment{v: v, rhs: rhs[i]})
			}
		}
	case len(rhs) == 1 && len(lhs) > 1:
		if v := a.localVar(lhs[0]); v != nil {
			a.assigns = append(a.assigns, assignment{v: v, rhs: rhs[0], tuple: true})
		}
	}
}

// localVar returns the variable an identifier names, if it is a variable
// declared inside a function (not a package variable or a field).
func (a *funcAnalysis) localVar(e ast.Expr) *types.Var {
	id, ok := ast.Unparen(e).(*ast.Ident)
	if !ok {
		return nil
	}
	v, ok := a.pass.TypesInfo.ObjectOf(id).(*types.Var)
	if !ok || v.IsField() || v.Parent() == nil || v.Parent() == v.Pkg().Scope() {
		return nil
	}
	return v
}

// markGuarded marks the local variables of a compared expression (d,
// int64(d), d.Seconds(), ...) as guarded.
func (a *funcAnalysis) markGuarded(e ast.Expr) {
	ast.Inspect(e, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			if v := a.localVar(id); v != nil {
				a.guarded[v] = true
			}
		}
		_, lit := n.(*ast.FuncLit)
		return !lit
	})
}

// solve propagates through the assignments until nothing changes.
func (a *funcAnalysis) solve() {
	for changed := true; changed; {
		changed = false
		for _, as := range a.assigns {
			if as.tuple {
				if a.noMono[as.v] == nil {
					if o := a.noMonoTuple(as.rhs); o != nil {
						a.noMono[as.v], changed = o, true
					}
				}
				continue
			}
			if a.noMono[as.v] == nil {
				if o := a.noMonoExpr(as.rhs); o != nil {
					a.noMono[as.v], changed = o, true
				}
			}
			if a.unix[as.v] == nil {
				if o := a.unixExpr(as.rhs); o != nil {
					a.unix[as.v], changed = o, true
				}
			}
			if a.dur[as.v] == nil && !a.guarded[as.v] {
				if t := a.durExpr(as.rhs); t != nil {
					a.dur[as.v], changed = t, true
				}
			}
		}
	}
}

// callee returns the function or method a call calls, or nil.
func (a *funcAnalysis) callee(call *ast.CallExpr) *types.Func {
	f := typeutil.StaticCallee(a.pass.TypesInfo, call)
	if f == nil {
		if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok {
			// A method called through an interface or a method value.
			if s := a.pass.TypesInfo.Selections[sel]; s != nil {
				f, _ = s.Obj().(*types.Func)
			}
		}
	}
	if f != nil {
		f = f.Origin()
	}
	return f
}

// isFunc reports whether f is the package-level function pkg.name.
func isFunc(f *types.Func, pkg string, names ...string) bool {
	if f == nil || f.Pkg() == nil || f.Pkg().Path() != pkg {
		return false
	}
	if sig, ok := f.Type().(*types.Signature); !ok || sig.Recv() != nil {
		return false
	}
	for _, n := range names {
		if f.Name() == n {
			return true
		}
	}
	return false
}

// isMethod reports whether f is a method of the named type pkg.typ (or of a
// pointer to it) with one of the names.
func isMethod(f *types.Func, pkg, typ string, names ...string) bool {
	if f == nil || f.Pkg() == nil || f.Pkg().Path() != pkg {
		return false
	}
	sig, ok := f.Type().(*types.Signature)
	if !ok || sig.Recv() == nil || !isNamed(sig.Recv().Type(), pkg, typ) {
		return false
	}
	for _, n := range names {
		if f.Name() == n {
			return true
		}
	}
	return false
}

// isNamed reports whether t is pkg.name or a pointer to it.
func isNamed(t types.Type, pkg, name string) bool {
	if p, ok := t.(*types.Pointer); ok {
		t = p.Elem()
	}
	n, ok := types.Unalias(t).(*types.Named)
	return ok && n.Obj().Pkg() != nil && n.Obj().Pkg().Path() == pkg && n.Obj().Name() == name
}

func isBuiltin(info *types.Info, call *ast.CallExpr, name string) bool {
	id, ok := ast.Unparen(call.Fun).(*ast.Ident)
	if !ok {
		return false
	}
	b, ok := info.Uses[id].(*types.Builtin)
	return ok && b.Name() == name
}

// receiver returns the receiver expression of a method call.
func receiver(call *ast.CallExpr) ast.Expr {
	if sel, ok := ast.Unparen(call.Fun).(*ast.SelectorExpr); ok {
		return sel.X
	}
	return nil
}

// conversion returns the target type of a conversion T(x), or nil.
func (a *funcAnalysis) conversion(call *ast.CallExpr) types.Type {
	if len(call.Args) != 1 {
		return nil
	}
	tv, ok := a.pass.TypesInfo.Types[call.Fun]
	if !ok || !tv.IsType() {
		return nil
	}
	return tv.Type
}

// varsIn returns the local variables an expression mentions.
func (a *funcAnalysis) varsIn(e ast.Node) map[*types.Var]bool {
	m := map[*types.Var]bool{}
	ast.Inspect(e, func(n ast.Node) bool {
		if id, ok := n.(*ast.Ident); ok {
			if v := a.localVar(id); v != nil {
				m[v] = true
			}
		}
		return true
	})
	return m
}

// noMonoExpr returns where a time.Time value without a monotonic reading
// comes from, or nil if it has one or is not known here.
func (a *funcAnalysis) noMonoExpr(e ast.Expr) *origin {
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		if v := a.localVar(e); v != nil {
			return a.noMono[v]
		}
	case *ast.SelectorExpr:
		if v := a.field(e); v != nil {
			if isParsedField(v) {
				return &origin{what: v.Pkg().Name() + " field " + v.Name() + ", a parsed time"}
			}
			return a.facts.fieldNoMono[v]
		}
	case *ast.CallExpr:
		f := a.callee(e)
		if o := a.funcNoMono(f); o != nil {
			return o
		}
		switch {
		case isMethod(f, "io/fs", "FileInfo", "ModTime"):
			return &origin{what: "FileInfo.ModTime(), a file's wall-clock time", pos: e.Pos()}
		case isFunc(f, "time", "Unix", "UnixMilli", "UnixMicro", "Date"):
			return &origin{what: "time." + f.Name(), pos: e.Pos(), from: a.varsIn(e), epoch: a.fixedArgs(e)}
		case isMethod(f, "time", "Time", "UTC", "Local", "In", "Round", "Truncate", "AddDate"):
			return &origin{what: "." + f.Name() + "()", pos: e.Pos(), from: a.varsIn(e)}
		case isMethod(f, "time", "Time", "Add"):
			return a.noMonoExpr(receiver(e))
		}
	}
	return nil
}

// fixedArgs reports whether every argument of a call is a constant or a
// package-level name (time.UTC): time.Date(2000, 1, 1, ...) is an epoch.
func (a *funcAnalysis) fixedArgs(call *ast.CallExpr) bool {
	for _, arg := range call.Args {
		if tv, ok := a.pass.TypesInfo.Types[arg]; ok && tv.Value != nil {
			continue
		}
		if !a.packageLevel(arg) {
			return false
		}
	}
	return true
}

// packageLevel reports whether e names a package-level variable or
// constant (ntpEra0, time.UTC).
func (a *funcAnalysis) packageLevel(e ast.Expr) bool {
	var id *ast.Ident
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		id = e
	case *ast.SelectorExpr:
		if _, isPkg := a.pass.TypesInfo.ObjectOf(identOf(e.X)).(*types.PkgName); !isPkg {
			return false
		}
		id = e.Sel
	default:
		return false
	}
	obj := a.pass.TypesInfo.ObjectOf(id)
	return obj != nil && obj.Pkg() != nil && obj.Parent() == obj.Pkg().Scope()
}

func identOf(e ast.Expr) *ast.Ident {
	id, _ := ast.Unparen(e).(*ast.Ident)
	return id
}

// epoch reports whether a time is a fixed instant (time.Date of constants)
// or a package-level variable, which the analyser takes for one: a
// difference with it is a conversion to another epoch, not elapsed time.
func (a *funcAnalysis) epoch(e ast.Expr) bool {
	if o := a.noMonoExpr(e); o != nil && o.epoch {
		return true
	}
	return a.packageLevel(e)
}

// noMonoTuple is noMonoExpr for the first result of a call with several.
func (a *funcAnalysis) noMonoTuple(e ast.Expr) *origin {
	if call, ok := ast.Unparen(e).(*ast.CallExpr); ok {
		f := a.callee(call)
		if isFunc(f, "time", "Parse", "ParseInLocation") || isFunc(f, "net/http", "ParseTime") || isFunc(f, "net/mail", "ParseDate") {
			return &origin{what: f.Pkg().Name() + "." + f.Name(), pos: call.Pos()}
		}
	}
	return nil
}

// parsedFields are struct fields of other packages that always hold a time
// decoded from bytes, so without a monotonic reading: package path to names.
var parsedFields = map[string][]string{
	"crypto/x509":              {"NotBefore", "NotAfter", "ThisUpdate", "NextUpdate", "RevocationTime"},
	"golang.org/x/crypto/ocsp": {"ProducedAt", "ThisUpdate", "NextUpdate", "RevokedAt"},
	"net/http":                 {"Expires"},
}

func isParsedField(v *types.Var) bool {
	if v.Pkg() == nil {
		return false
	}
	for _, n := range parsedFields[v.Pkg().Path()] {
		if v.Name() == n {
			return true
		}
	}
	return false
}

// unixExpr returns where an integer holding a Unix reading comes from.
func (a *funcAnalysis) unixExpr(e ast.Expr) *origin {
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		if v := a.localVar(e); v != nil {
			return a.unix[v]
		}
	case *ast.SelectorExpr:
		if v := a.field(e); v != nil {
			return a.facts.fieldUnix[v]
		}
	case *ast.CallExpr:
		if t := a.conversion(e); t != nil {
			if isNumber(t) {
				return a.unixExpr(e.Args[0])
			}
			return nil
		}
		f := a.callee(e)
		if o := a.funcUnix(f); o != nil {
			return o
		}
		if isMethod(f, "time", "Time", "Unix", "UnixNano", "UnixMilli", "UnixMicro") && !a.epoch(receiver(e)) {
			return &origin{what: "." + f.Name() + "()", pos: e.Pos()}
		}
	case *ast.BinaryExpr:
		// UnixNano()/1e6 is a reading in milliseconds.
		if e.Op == token.QUO {
			if tv, ok := a.pass.TypesInfo.Types[e.Y]; ok && tv.Value != nil {
				return a.unixExpr(e.X)
			}
		}
	}
	return nil
}

// field returns the struct field a selector names, or nil.
func (a *funcAnalysis) field(e *ast.SelectorExpr) *types.Var {
	if s := a.pass.TypesInfo.Selections[e]; s != nil && s.Kind() == types.FieldVal {
		if v, ok := s.Obj().(*types.Var); ok {
			return v.Origin() // one field for every instance of a generic type
		}
	}
	return nil
}

func isNumber(t types.Type) bool {
	b, ok := t.Underlying().(*types.Basic)
	return ok && b.Info()&types.IsNumeric != 0
}

func isInteger(t types.Type) bool {
	b, ok := t.Underlying().(*types.Basic)
	return ok && b.Info()&types.IsInteger != 0
}

func isUnsigned(t types.Type) bool {
	b, ok := t.Underlying().(*types.Basic)
	return ok && b.Info()&types.IsUnsigned != 0
}

const (
	fixKeepNow = "keep the time.Now() value (its monotonic reading makes Sub, Since and Until safe), or clamp the value first"
	fixClamp   = "measure with time.Now() and time.Since, or clamp the value first"
)

// durExpr returns why a duration (or a number derived from one) can be
// negative or zero, or nil if it is not known to be hazardous here.
func (a *funcAnalysis) durExpr(e ast.Expr) *taint {
	switch e := ast.Unparen(e).(type) {
	case *ast.Ident:
		if v := a.localVar(e); v != nil && !a.guarded[v] {
			return a.dur[v]
		}
	case *ast.CallExpr:
		if t := a.conversion(e); t != nil {
			if isNumber(t) {
				return a.durExpr(e.Args[0])
			}
			return nil
		}
		f := a.callee(e)
		if t := a.funcDur(f); t != nil {
			return t
		}
		switch {
		case isFunc(f, "time", "Since", "Until") && len(e.Args) == 1:
			if o := a.noMonoExpr(e.Args[0]); o != nil && !o.epoch {
				return &taint{why: fmt.Sprintf("time.%s(%s) is read on the wall clock, as %s has no monotonic reading",
					f.Name(), a.text(e.Args[0]), a.describe(e.Args[0], o)), fix: fixKeepNow, param: -1}
			}
		case isMethod(f, "time", "Time", "Sub") && len(e.Args) == 1:
			x, y := receiver(e), e.Args[0]
			if a.epoch(x) || a.epoch(y) {
				return nil // a conversion to another epoch
			}
			ox, oy := a.noMonoExpr(x), a.noMonoExpr(y)
			// A time computed from the other operand (now.Truncate(h),
			// time.Date(now.Year(), ...)) differs from it by construction.
			if ox != nil && a.derived(ox, y) || oy != nil && a.derived(oy, x) {
				return nil
			}
			o, which := ox, x
			if o == nil {
				o, which = oy, y
			}
			if o != nil {
				return &taint{why: fmt.Sprintf("%s.Sub(%s) is read on the wall clock, as %s has no monotonic reading",
					a.text(x), a.text(y), a.describe(which, o)), fix: fixKeepNow, param: -1}
			}
		case isMethod(f, "time", "Duration", "Nanoseconds", "Microseconds", "Milliseconds", "Seconds", "Minutes", "Hours", "Round", "Truncate"):
			return a.durExpr(receiver(e))
		case isBuiltin(a.pass.TypesInfo, e, "min"):
			for _, arg := range e.Args {
				if t := a.durExpr(arg); t != nil {
					return t
				}
			}
		}
	case *ast.BinaryExpr:
		switch e.Op {
		case token.SUB:
			if ox, oy := a.unixExpr(e.X), a.unixExpr(e.Y); ox != nil && oy != nil {
				return &taint{why: fmt.Sprintf("%s is a difference of wall-clock readings (%s, line %d, and %s, line %d)",
					a.text(e), ox.what, a.line(ox.pos), oy.what, a.line(oy.pos)), fix: fixClamp, param: -1}
			}
			return a.durExpr(e.X)
		case token.MUL:
			if t := a.durExpr(e.X); t != nil {
				return t
			}
			return a.durExpr(e.Y)
		case token.QUO:
			return a.durExpr(e.X)
		}
	}
	return nil
}

// derived reports whether the time of origin o was computed from the
// variable that expression e names.
func (a *funcAnalysis) derived(o *origin, e ast.Expr) bool {
	v := a.localVar(e)
	return v != nil && o.from[v]
}

// describe names a time without a monotonic reading: "start (from .UTC(),
// line 12)" for a variable, the expression itself for a call.
func (a *funcAnalysis) describe(e ast.Expr, o *origin) string {
	switch o.pos {
	case ast.Unparen(e).Pos():
		return a.text(e) // the expression is where it comes from
	case token.NoPos:
		return fmt.Sprintf("%s (from %s)", a.text(e), o.what)
	}
	return fmt.Sprintf("%s (from %s, line %d)", a.text(e), o.what, a.line(o.pos))
}

func (a *funcAnalysis) line(p token.Pos) int { return a.pass.Fset.Position(p).Line }

// text renders a short expression for a message.
func (a *funcAnalysis) text(e ast.Expr) string {
	s := types.ExprString(e)
	if len(s) > 60 {
		s = s[:57] + "..."
	}
	return s
}

// report walks the function for sinks (and with -sources, for sources).
func (a *funcAnalysis) report() {
	if inventory && a.sinks == nil {
		a.reportSources()
	}
	info := a.pass.TypesInfo
	ast.Inspect(a.body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.CallExpr:
			if isBuiltin(info, n, "make") {
				for _, size := range n.Args[1:] {
					a.sink(size, "make panics on a negative size", "0")
				}
				return true
			}
			if t := a.conversion(n); t != nil {
				if isUnsigned(t) && isNumber(info.TypeOf(n.Args[0])) {
					a.sink(n.Args[0], fmt.Sprintf("converting a negative value to %s wraps it around to a huge one", types.TypeString(t, types.RelativeTo(a.pass.Pkg))), "0")
				}
				return true
			}
			f := a.callee(n)
			switch {
			case isFunc(f, "math/rand", "Int63n", "Intn", "Int31n") || isMethod(f, "math/rand", "Rand", "Int63n", "Intn", "Int31n") ||
				isFunc(f, "math/rand/v2", "IntN", "Int64N", "Int32N", "Uint64N", "N") || isMethod(f, "math/rand/v2", "Rand", "IntN", "Int64N", "Int32N", "Uint64N"):
				if len(n.Args) == 1 {
					arg := n.Args[0]
					// rand.Uint64N(uint64(d)): report the call, not also the conversion.
					if c, ok := ast.Unparen(arg).(*ast.CallExpr); ok && a.conversion(c) != nil && isUnsigned(a.conversion(c)) {
						arg = c.Args[0]
						a.sink(arg, fmt.Sprintf("rand.%s panics unless its argument is positive (and converting a negative value to an unsigned one wraps it around)", f.Name()), "")
						a.done[arg] = true
					} else {
						a.sink(arg, fmt.Sprintf("rand.%s panics unless its argument is positive", f.Name()), "1")
					}
				}
			case isFunc(f, "time", "NewTicker") || isMethod(f, "time", "Ticker", "Reset"):
				if len(n.Args) == 1 {
					name := "time.NewTicker"
					if f.Name() == "Reset" {
						name = "Ticker.Reset"
					}
					a.sink(n.Args[0], name+" panics unless its duration is positive", "")
				}
			default:
				if ps := a.paramSink(f); ps != nil {
					for i, arg := range n.Args {
						if why, ok := ps[i]; ok {
							name := f.Type().(*types.Signature).Params().At(i).Name()
							a.sink(arg, fmt.Sprintf("it is passed to %s() as %s, where %s", f.Name(), name, why), "")
						}
					}
				}
			}
		case *ast.IndexExpr:
			if indexable(info.TypeOf(n.X)) {
				a.sink(n.Index, "a negative index panics", "")
			}
		case *ast.SliceExpr:
			for _, b := range []ast.Expr{n.Low, n.High, n.Max} {
				if b != nil {
					a.sink(b, "a negative slice bound panics", "")
				}
			}
		case *ast.BinaryExpr:
			if (n.Op == token.QUO || n.Op == token.REM) && isInteger(info.TypeOf(n)) {
				a.sink(n.Y, "an integer division by zero panics", "")
			}
		case *ast.AssignStmt:
			if (n.Tok == token.QUO_ASSIGN || n.Tok == token.REM_ASSIGN) && len(n.Rhs) == 1 && isInteger(info.TypeOf(n.Rhs[0])) {
				a.sink(n.Rhs[0], "an integer division by zero panics", "")
			}
		}
		return true
	})
}

// reportSources reports each expression that makes a wall-clock duration:
// Since, Until or Sub on a time without a monotonic reading, and differences
// of Unix readings.
func (a *funcAnalysis) reportSources() {
	ast.Inspect(a.body, func(n ast.Node) bool {
		var t *taint
		switch n := n.(type) {
		case *ast.CallExpr:
			if f := a.callee(n); isFunc(f, "time", "Since", "Until") || isMethod(f, "time", "Time", "Sub") {
				t = a.durExpr(n)
			}
		case *ast.BinaryExpr:
			if n.Op == token.SUB && a.unixExpr(n.X) != nil && a.unixExpr(n.Y) != nil {
				t = a.durExpr(n)
			}
		}
		if t != nil {
			a.pass.Reportf(n.Pos(), "wall-clock duration (inventory): %s", t.why)
		}
		return true
	})
}

// indexable reports whether indexing a value of type t with a negative
// index panics: slices, arrays, pointers to arrays and strings (not maps).
func indexable(t types.Type) bool {
	if t == nil {
		return false
	}
	if p, ok := t.Underlying().(*types.Pointer); ok {
		t = p.Elem()
	}
	switch u := t.Underlying().(type) {
	case *types.Slice, *types.Array:
		return true
	case *types.Basic:
		return u.Info()&types.IsString != 0
	}
	return false
}

// sink reports e if it is a hazardous duration. clamp, when not empty, is
// the mechanical fix: the least safe value, for max(e, clamp).
func (a *funcAnalysis) sink(e ast.Expr, breaks, clamp string) {
	if a.done[e] {
		return
	}
	t := a.durExpr(e)
	if t == nil {
		return
	}
	a.done[e] = true
	if a.sinks != nil {
		if t.param >= 0 {
			if _, ok := a.sinks[t.param]; !ok {
				a.sinks[t.param] = fmt.Sprintf("%s (line %d)", breaks, a.line(e.Pos()))
			}
		}
		return
	}
	if t.param >= 0 {
		return
	}
	d := analysis.Diagnostic{
		Pos:     e.Pos(),
		End:     e.End(),
		Message: fmt.Sprintf("%s can be negative or zero when the clock is stepped or a leap second is inserted: %s; %s; %s", a.text(e), t.why, breaks, t.fix),
	}
	if clamp != "" && a.goVersionAtLeast(e.Pos(), "go1.21") {
		d.SuggestedFixes = []analysis.SuggestedFix{{
			Message: fmt.Sprintf("clamp: max(%s, %s)", a.text(e), clamp),
			TextEdits: []analysis.TextEdit{
				{Pos: e.Pos(), End: e.Pos(), NewText: []byte("max(")},
				{Pos: e.End(), End: e.End(), NewText: []byte(", " + clamp + ")")},
			},
		}}
	}
	a.pass.Report(d)
}

// paramSinks works out which numeric parameters of f reach a sink
// unguarded: each is taken as hazardous in turn, and the sinks collected.
func paramSinks(pass *analysis.Pass, f funcBody, facts *pkgFacts) map[int]string {
	if f.fn == nil {
		return nil
	}
	sig := f.fn.Type().(*types.Signature)
	var out map[int]string
	for i := range sig.Params().Len() {
		p := sig.Params().At(i)
		if !isNumber(p.Type()) || sig.Variadic() && i == sig.Params().Len()-1 {
			continue
		}
		a := newFuncAnalysis(pass, f.body, facts)
		if a.guarded[p] {
			continue
		}
		a.dur[p] = &taint{why: "parameter " + p.Name(), param: i}
		a.sinks = map[int]string{}
		a.solve()
		a.report()
		if why, ok := a.sinks[i]; ok {
			if out == nil {
				out = map[int]string{}
			}
			out[i] = why
		}
	}
	return out
}

// goVersionAtLeast reports whether the file at p is compiled as Go v or
// newer (the max builtin needs Go 1.21).
func (a *funcAnalysis) goVersionAtLeast(p token.Pos, v string) bool {
	fv := ""
	for _, f := range a.pass.Files {
		if f.FileStart <= p && p <= f.FileEnd {
			fv = a.pass.TypesInfo.FileVersions[f]
		}
	}
	if fv == "" {
		fv = a.pass.Pkg.GoVersion()
	}
	return fv != "" && version.Compare(fv, v) >= 0
}
