//! What the tidy rules read out of a Rust source file with syn: function lengths, the modules a
//! file refers to, public functions that return `String` errors, and calls of the test lock
//! outside tests.

use std::path::Path;

use syn::spanned::Spanned;
use syn::visit::Visit;

/// A parsed source file and what the rules found in it.
pub struct Facts {
    /// `(name, first line, lines)` of every function with a body.
    pub functions: Vec<(String, usize, usize)>,
    /// Module paths (from the crate root) this file refers to, with the line of the reference.
    pub references: Vec<(Vec<String>, usize)>,
    /// Public functions whose error type is `String`, with their line.
    pub string_errors: Vec<(String, usize)>,
    /// Lines where `device_rng_lock()` is called outside a test.
    pub lock_calls: Vec<usize>,
}

/// Parses `path`, whose module path from the crate root is `module` (empty for `lib.rs`).
pub fn read(path: &Path, module: &[String]) -> Result<Facts, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let file = syn::parse_file(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let mut walker = Walker {
        module: module.to_vec(),
        in_test: 0,
        facts: Facts {
            functions: Vec::new(),
            references: Vec::new(),
            string_errors: Vec::new(),
            lock_calls: Vec::new(),
        },
    };
    walker.visit_file(&file);
    Ok(walker.facts)
}

struct Walker {
    /// The module the walker is in: the file's, plus any inline `mod` it entered.
    module: Vec<String>,
    /// How many enclosing items are tests (`#[cfg(test)]` or `#[test]`).
    in_test: usize,
    facts: Facts,
}

fn is_test(attrs: &[syn::Attribute]) -> bool {
    attrs.iter().any(|a| {
        a.path().is_ident("test")
            || (a.path().is_ident("cfg")
                && a.meta.require_list().is_ok_and(|l| {
                    l.tokens
                        .to_string()
                        .split(|c: char| !c.is_alphanumeric())
                        .any(|w| w == "test")
                }))
    })
}

/// Whether the return type is `Result<_, String>`.
fn returns_string_error(output: &syn::ReturnType) -> bool {
    let syn::ReturnType::Type(_, ty) = output else {
        return false;
    };
    let syn::Type::Path(path) = ty.as_ref() else {
        return false;
    };
    let Some(last) = path.path.segments.last() else {
        return false;
    };
    let syn::PathArguments::AngleBracketed(args) = &last.arguments else {
        return false;
    };
    last.ident == "Result"
        && args.args.iter().nth(1).is_some_and(|arg| {
            matches!(arg, syn::GenericArgument::Type(syn::Type::Path(p)) if p.path.is_ident("String"))
        })
}

impl Walker {
    fn function(&mut self, sig: &syn::Signature, block: &syn::Block, public: bool) {
        let first = sig.fn_token.span.start().line;
        let last = block.brace_token.span.close().end().line;
        let name = sig.ident.to_string();
        self.facts
            .functions
            .push((name.clone(), first, last + 1 - first));
        if public && self.in_test == 0 && returns_string_error(&sig.output) {
            self.facts.string_errors.push((name, first));
        }
    }

    /// `segments` as a module path from the crate root, if it starts at `crate`, `super` or
    /// `self`.
    fn resolve(&self, segments: &[String]) -> Option<Vec<String>> {
        let mut base = match segments.first()?.as_str() {
            "crate" => Vec::new(),
            "super" | "self" => self.module.clone(),
            _ => return None,
        };
        let mut rest = segments;
        if rest[0] == "crate" {
            rest = &rest[1..];
        }
        while let Some(first) = rest.first() {
            match first.as_str() {
                "super" => {
                    base.pop();
                }
                "self" => {}
                _ => break,
            }
            rest = &rest[1..];
        }
        base.extend(rest.iter().cloned());
        Some(base)
    }

    fn reference(&mut self, segments: &[String], line: usize) {
        if let Some(path) = self.resolve(segments) {
            self.facts.references.push((path, line));
        }
    }

    /// Every path a `use` tree names, each as its segments.
    fn use_paths(tree: &syn::UseTree, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
        match tree {
            syn::UseTree::Path(p) => {
                prefix.push(p.ident.to_string());
                Self::use_paths(&p.tree, prefix, out);
                prefix.pop();
            }
            syn::UseTree::Name(n) => out.push([prefix.clone(), vec![n.ident.to_string()]].concat()),
            syn::UseTree::Rename(r) => {
                out.push([prefix.clone(), vec![r.ident.to_string()]].concat());
            }
            syn::UseTree::Glob(_) => out.push(prefix.clone()),
            syn::UseTree::Group(g) => {
                for item in &g.items {
                    Self::use_paths(item, prefix, out);
                }
            }
        }
    }
}

impl<'ast> Visit<'ast> for Walker {
    fn visit_item_fn(&mut self, item: &'ast syn::ItemFn) {
        let test = is_test(&item.attrs);
        self.in_test += usize::from(test);
        let public = matches!(item.vis, syn::Visibility::Public(_));
        self.function(&item.sig, &item.block, public);
        syn::visit::visit_item_fn(self, item);
        self.in_test -= usize::from(test);
    }

    fn visit_impl_item_fn(&mut self, item: &'ast syn::ImplItemFn) {
        let public = matches!(item.vis, syn::Visibility::Public(_));
        self.function(&item.sig, &item.block, public);
        syn::visit::visit_impl_item_fn(self, item);
    }

    fn visit_trait_item_fn(&mut self, item: &'ast syn::TraitItemFn) {
        if let Some(block) = &item.default {
            self.function(&item.sig, block, false);
        }
        syn::visit::visit_trait_item_fn(self, item);
    }

    fn visit_item_mod(&mut self, item: &'ast syn::ItemMod) {
        let test = is_test(&item.attrs);
        self.in_test += usize::from(test);
        if item.content.is_some() {
            self.module.push(item.ident.to_string());
            syn::visit::visit_item_mod(self, item);
            self.module.pop();
        }
        self.in_test -= usize::from(test);
    }

    fn visit_item_use(&mut self, item: &'ast syn::ItemUse) {
        let mut paths = Vec::new();
        Self::use_paths(&item.tree, &mut Vec::new(), &mut paths);
        let line = item.span().start().line;
        for path in paths {
            self.reference(&path, line);
        }
    }

    fn visit_path(&mut self, path: &'ast syn::Path) {
        let segments: Vec<String> = path.segments.iter().map(|s| s.ident.to_string()).collect();
        self.reference(&segments, path.span().start().line);
        syn::visit::visit_path(self, path);
    }

    fn visit_expr_call(&mut self, call: &'ast syn::ExprCall) {
        if let syn::Expr::Path(p) = call.func.as_ref()
            && p.path
                .segments
                .last()
                .is_some_and(|s| s.ident == "device_rng_lock")
            && self.in_test == 0
        {
            self.facts.lock_calls.push(call.span().start().line);
        }
        syn::visit::visit_expr_call(self, call);
    }
}
