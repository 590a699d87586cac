package leapvet

import (
	"fmt"
	"go/ast"
	"go/token"
	"go/types"
	"path/filepath"

	"golang.org/x/tools/go/analysis"
)

// pkgFacts are what one package shows of its struct fields and functions:
// the fields and function results given only times without a monotonic
// reading, and those given only Unix readings.
type pkgFacts struct {
	fieldNoMono map[*types.Var]*origin
	fieldUnix   map[*types.Var]*origin
	funcNoMono  map[*types.Func]*origin
	funcUnix    map[*types.Func]*origin
	// funcDur holds functions that return a hazardous duration.
	funcDur map[*types.Func]*taint
	// paramSink holds functions whose numeric parameters reach a sink
	// unguarded: parameter index to what breaks there.
	paramSink map[*types.Func]map[int]string
}

func newPkgFacts() *pkgFacts {
	return &pkgFacts{
		fieldNoMono: map[*types.Var]*origin{},
		fieldUnix:   map[*types.Var]*origin{},
		funcNoMono:  map[*types.Func]*origin{},
		funcUnix:    map[*types.Func]*origin{},
		funcDur:     map[*types.Func]*taint{},
		paramSink:   map[*types.Func]map[int]string{},
	}
}

// verdict gathers the values given to one field or returned by one
// function: all of a kind so far, and the first one's origin.
type verdict struct {
	n              int
	noMono, unix   bool
	noMonoO, unixO *origin
	dur            *taint // a hazardous duration among the values, if any
}

func (v *verdict) add(noMono, unix *origin) {
	if v.n == 0 {
		v.noMono, v.unix = true, true
	}
	v.n++
	v.noMono = v.noMono && noMono != nil
	v.unix = v.unix && unix != nil
	if v.noMonoO == nil {
		v.noMonoO = noMono
	}
	if v.unixO == nil {
		v.unixO = unix
	}
}

// observations are the values seen in one round.
type observations struct {
	fields map[*types.Var]*verdict
	funcs  map[*types.Func]*verdict
	// spoiled fields are given values the package does not show: their
	// address is taken, or a pointer method is called on them.
	spoiled map[*types.Var]bool
}

func newObservations() *observations {
	return &observations{fields: map[*types.Var]*verdict{}, funcs: map[*types.Func]*verdict{}, spoiled: map[*types.Var]bool{}}
}

func (o *observations) field(v *types.Var) *verdict {
	if o.fields[v] == nil {
		o.fields[v] = &verdict{}
	}
	return o.fields[v]
}

// observe records the values the function gives to fields (assignments and
// composite literals) and, for a declared function with one result of type
// time.Time or an integer, the values it returns.
func (a *funcAnalysis) observe(f funcBody, obs *observations) {
	info := a.pass.TypesInfo
	resultIdx := -1
	if f.fn != nil {
		if res := f.fn.Type().(*types.Signature).Results(); res.Len() == 1 {
			resultIdx = 0
		} else {
			for i := range res.Len() {
				if isNamed(res.At(i).Type(), "time", "Time") {
					resultIdx = i
					break
				}
			}
		}
	}
	ast.Inspect(a.body, func(n ast.Node) bool {
		switch n := n.(type) {
		case *ast.FuncLit:
			// Its returns are not f's; its assignments are seen below.
			ast.Inspect(n.Body, func(m ast.Node) bool { a.observeFields(m, obs); return true })
			return false
		case *ast.ReturnStmt:
			if f.fn != nil && resultIdx >= 0 && len(n.Results) > resultIdx && len(n.Results) == f.fn.Type().(*types.Signature).Results().Len() {
				e := n.Results[resultIdx]
				v := obs.funcs[f.fn]
				if v == nil {
					v = &verdict{}
					obs.funcs[f.fn] = v
				}
				v.add(a.noMonoExpr(e), a.unixExpr(e))
				if v.dur == nil && isNumber(a.pass.TypesInfo.TypeOf(e)) {
					v.dur = a.durExpr(e)
				}
			} else if f.fn != nil && len(n.Results) > 0 {
				// A return of several values from one call: not seen.
				v := obs.funcs[f.fn]
				if v == nil {
					v = &verdict{}
					obs.funcs[f.fn] = v
				}
				v.add(nil, nil)
			}
		}
		a.observeFields(n, obs)
		return true
	})
	_ = info
}

func (a *funcAnalysis) observeFields(n ast.Node, obs *observations) {
	info := a.pass.TypesInfo
	switch n := n.(type) {
	case *ast.AssignStmt:
		for i, lhs := range n.Lhs {
			sel, ok := ast.Unparen(lhs).(*ast.SelectorExpr)
			if !ok {
				continue
			}
			v := a.field(sel)
			if v == nil {
				continue
			}
			if n.Tok != token.ASSIGN && n.Tok != token.DEFINE || len(n.Lhs) != len(n.Rhs) {
				obs.field(v).add(nil, nil)
				continue
			}
			obs.field(v).add(a.noMonoExpr(n.Rhs[i]), a.unixExpr(n.Rhs[i]))
		}
	case *ast.IncDecStmt:
		if sel, ok := ast.Unparen(n.X).(*ast.SelectorExpr); ok {
			if v := a.field(sel); v != nil {
				obs.field(v).add(nil, nil)
			}
		}
	case *ast.CompositeLit:
		st, ok := typeUnder(info.TypeOf(n)).(*types.Struct)
		if !ok {
			return
		}
		for i, elt := range n.Elts {
			var v *types.Var
			val := elt
			if kv, ok := elt.(*ast.KeyValueExpr); ok {
				if id, ok := kv.Key.(*ast.Ident); ok {
					v, _ = info.ObjectOf(id).(*types.Var)
				}
				val = kv.Value
			} else if i < st.NumFields() {
				v = st.Field(i)
			}
			if v != nil {
				obs.field(v.Origin()).add(a.noMonoExpr(val), a.unixExpr(val))
			}
		}
	case *ast.UnaryExpr:
		if n.Op == token.AND {
			if sel, ok := ast.Unparen(n.X).(*ast.SelectorExpr); ok {
				if v := a.field(sel); v != nil {
					obs.spoiled[v] = true
				}
			}
		}
	case *ast.CallExpr:
		// t.field.UnmarshalJSON(...) and other pointer methods change it.
		if sel, ok := ast.Unparen(n.Fun).(*ast.SelectorExpr); ok {
			if s := info.Selections[sel]; s != nil && s.Kind() == types.MethodVal {
				if _, ptr := s.Obj().Type().(*types.Signature).Recv().Type().(*types.Pointer); ptr {
					if inner, ok := ast.Unparen(sel.X).(*ast.SelectorExpr); ok {
						if v := a.field(inner); v != nil {
							obs.spoiled[v] = true
						}
					}
				}
			}
		}
	}
}

func typeUnder(t types.Type) types.Type {
	if t == nil {
		return nil
	}
	if p, ok := t.Underlying().(*types.Pointer); ok {
		t = p.Elem()
	}
	return t.Underlying()
}

// disqualify drops what other packages may change unseen: exported
// time.Time fields (another package may store time.Now() there), and
// fields whose address is taken.
func (o *observations) disqualify(pass *analysis.Pass, _ []funcBody) {
	for v := range o.fields {
		if o.spoiled[v] || v.Pkg() != pass.Pkg {
			delete(o.fields, v)
		}
	}
}

// update turns the round's observations into facts; it reports whether the
// facts changed.
func (f *pkgFacts) update(obs *observations) bool {
	changed := false
	for v, vd := range obs.fields {
		if vd.noMono && !v.Exported() && f.fieldNoMono[v] == nil {
			f.fieldNoMono[v] = &origin{what: fmt.Sprintf("field %s, only ever set from %s", v.Name(), vd.noMonoO.what), pos: vd.noMonoO.pos}
			changed = true
		}
		if vd.unix && f.fieldUnix[v] == nil && isInteger(v.Type()) {
			f.fieldUnix[v] = &origin{what: fmt.Sprintf("field %s, only ever set from %s", v.Name(), vd.unixO.what), pos: vd.unixO.pos}
			changed = true
		}
	}
	for fn, vd := range obs.funcs {
		if vd.dur != nil && vd.dur.param < 0 && f.funcDur[fn] == nil {
			f.funcDur[fn] = &taint{why: fmt.Sprintf("it comes from %s(), where %s", fn.Name(), vd.dur.why), fix: vd.dur.fix, param: -1}
			changed = true
		}
		if vd.noMono && f.funcNoMono[fn] == nil {
			f.funcNoMono[fn] = &origin{what: fmt.Sprintf("%s(), which returns %s", fn.Name(), vd.noMonoO.what), pos: vd.noMonoO.pos}
			changed = true
		}
		if vd.unix && f.funcUnix[fn] == nil {
			f.funcUnix[fn] = &origin{what: fmt.Sprintf("%s(), which returns %s", fn.Name(), vd.unixO.what), pos: vd.unixO.pos}
			changed = true
		}
	}
	return changed
}

// Facts exported for the package's exported functions, so that packages
// importing it see them too.

// noMonoFact: the function only ever returns times without a monotonic
// reading.
type noMonoFact struct{ What string }

// unixFact: the function only ever returns Unix readings.
type unixFact struct{ What string }

// durFact: the function returns a hazardous duration.
type durFact struct{ Why, Fix string }

// paramSinkFact: parameters of the function reach a sink unguarded, in
// the order of the parameters (a slice, as facts must encode the same way
// every time).
type paramSinkFact struct{ Sinks []paramSink }

// paramSink is one parameter that reaches a sink, and what breaks there.
type paramSink struct {
	Index int
	Why   string
}

func (*noMonoFact) AFact()    {}
func (*unixFact) AFact()      {}
func (*durFact) AFact()       {}
func (*paramSinkFact) AFact() {}

func (f *noMonoFact) String() string    { return "returns a time without a monotonic reading: " + f.What }
func (f *unixFact) String() string      { return "returns a Unix reading: " + f.What }
func (f *durFact) String() string       { return "returns a wall-clock duration: " + f.Why }
func (f *paramSinkFact) String() string { return fmt.Sprintf("parameters reach sinks: %v", f.Sinks) }

// export exports the facts of the package's exported functions, with the
// places they name written out (positions mean nothing in another package).
func (f *pkgFacts) export(pass *analysis.Pass) {
	where := func(o *origin) string {
		if !o.pos.IsValid() {
			return o.what
		}
		p := pass.Fset.Position(o.pos)
		return fmt.Sprintf("%s, %s:%d", o.what, filepath.Base(p.Filename), p.Line)
	}
	qualify := func(fn *types.Func, what string) string {
		return fn.Pkg().Name() + "." + what
	}
	for fn, o := range f.funcNoMono {
		if fn.Exported() {
			pass.ExportObjectFact(fn, &noMonoFact{What: qualify(fn, where(o))})
		}
	}
	for fn, o := range f.funcUnix {
		if fn.Exported() {
			pass.ExportObjectFact(fn, &unixFact{What: qualify(fn, where(o))})
		}
	}
	for fn, t := range f.funcDur {
		if fn.Exported() {
			pass.ExportObjectFact(fn, &durFact{Why: t.why + " (in package " + pass.Pkg.Path() + ")", Fix: t.fix})
		}
	}
	for fn, ps := range f.paramSink {
		if fn.Exported() {
			var fact paramSinkFact
			for i := range fn.Type().(*types.Signature).Params().Len() {
				if why, ok := ps[i]; ok {
					fact.Sinks = append(fact.Sinks, paramSink{Index: i, Why: why + " in package " + pass.Pkg.Path()})
				}
			}
			pass.ExportObjectFact(fn, &fact)
		}
	}
}

// funcNoMono returns where the times a function returns come from, when it
// only ever returns times without a monotonic reading: known for the
// package's functions, and through facts for other packages'.
func (a *funcAnalysis) funcNoMono(fn *types.Func) *origin {
	if fn == nil {
		return nil
	}
	if o := a.facts.funcNoMono[fn]; o != nil {
		return o
	}
	var fact noMonoFact
	if fn.Pkg() != a.pass.Pkg && a.pass.ImportObjectFact(fn, &fact) {
		return &origin{what: fact.What}
	}
	return nil
}

// funcUnix is funcNoMono for functions that return Unix readings.
func (a *funcAnalysis) funcUnix(fn *types.Func) *origin {
	if fn == nil {
		return nil
	}
	if o := a.facts.funcUnix[fn]; o != nil {
		return o
	}
	var fact unixFact
	if fn.Pkg() != a.pass.Pkg && a.pass.ImportObjectFact(fn, &fact) {
		return &origin{what: fact.What}
	}
	return nil
}

// funcDur is funcNoMono for functions that return hazardous durations.
func (a *funcAnalysis) funcDur(fn *types.Func) *taint {
	if fn == nil {
		return nil
	}
	if t := a.facts.funcDur[fn]; t != nil {
		return t
	}
	var fact durFact
	if fn.Pkg() != a.pass.Pkg && a.pass.ImportObjectFact(fn, &fact) {
		return &taint{why: fact.Why, fix: fact.Fix, param: -1}
	}
	return nil
}

// paramSink returns which parameters of a function reach a sink.
func (a *funcAnalysis) paramSink(fn *types.Func) map[int]string {
	if fn == nil {
		return nil
	}
	if ps := a.facts.paramSink[fn]; ps != nil {
		return ps
	}
	var fact paramSinkFact
	if fn.Pkg() != a.pass.Pkg && a.pass.ImportObjectFact(fn, &fact) {
		m := make(map[int]string, len(fact.Sinks))
		for _, p := range fact.Sinks {
			m[p.Index] = p.Why
		}
		return m
	}
	return nil
}
