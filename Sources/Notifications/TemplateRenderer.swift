import Foundation
import Mustache
import ParleyCore

/// Renders notification templates with Mustache, strictly: a variable a template prints that the data lacks
/// (or holds as null) is an error naming it, never a blank in the message.
///
/// Sections (`{{#x}}…{{/x}}`, `{{^x}}…{{/x}}`) may name absent values (they are false); only printed
/// variables must exist. Partials and blocks are refused when a template is saved: templates stand alone.
public enum TemplateRenderer {
    /// The locales to try for `locale`, most specific first, ending with `defaultLocale`:
    /// `zh-hant-tw` → `zh-hant` → `zh` → `en`. Locales are compared in lower case with `-`.
    public static func fallbackChain(for locale: String?, defaultLocale: String) -> [String] {
        var chain: [String] = []
        if let locale {
            var parts = normalize(locale).split(separator: "-").map(String.init)
            while !parts.isEmpty {
                chain.append(parts.joined(separator: "-"))
                parts.removeLast()
            }
        }
        let fallback = normalize(defaultLocale)
        if !chain.contains(fallback) { chain.append(fallback) }
        return chain
    }

    public static func normalize(_ locale: String) -> String {
        locale.replacingOccurrences(of: "_", with: "-").lowercased()
    }

    /// Checks that a locale looks like a BCP 47 tag (letters, digits and `-`, at most 35 characters).
    public static func validateLocale(_ locale: String, field: String = "locale") throws(ParleyError) -> String {
        let normalized = normalize(locale)
        guard !normalized.isEmpty, normalized.utf8.count <= 35,
              normalized.split(separator: "-", omittingEmptySubsequences: false).allSatisfy({ part in
                  !part.isEmpty && part.count <= 8 && part.allSatisfy { $0.isASCII && ($0.isLetter || $0.isNumber) }
              }) else {
            throw ParleyError.invalidField(field, "a language tag such as 'en', 'pt-BR' or 'zh-Hant-TW'")
        }
        return normalized
    }

    /// Refuses a template field Mustache cannot parse, or one using partials or blocks.
    public static func validate(_ text: String, field: String) throws(ParleyError) {
        guard text.utf8.count <= 64 * 1024 else { throw ParleyError.fieldTooLong(field, limit: 64 * 1024) }
        do {
            _ = try MustacheTemplate(string: text)
        } catch {
            throw ParleyError.invalidTemplate(field, "it does not parse as Mustache (\(error))")
        }
        _ = try MustacheScan.parse(text, field: field)
    }

    /// Renders one field. Throws `notifications.missing_variable` (through `onMissing`) when a printed variable is absent.
    static func render(_ text: String, html: Bool, data: [String: JSONValue],
                       onMissing: (String) -> ParleyError) throws(ParleyError) -> String {
        let nodes = try MustacheScan.parse(text, field: "template")
        if let missing = MustacheScan.firstMissing(in: nodes, stack: [.object(data)]) { throw onMissing(missing) }
        let source = html ? text : "{{% CONTENT_TYPE: TEXT}}" + text
        let template: MustacheTemplate
        do {
            template = try MustacheTemplate(string: source)
        } catch {
            throw ParleyError.invalidTemplate("template", "it does not parse as Mustache")
        }
        return template.render(mustacheValue(.object(data)))
    }

    /// The plain Swift values swift-mustache walks: dictionaries, arrays, strings, numbers, booleans.
    static func mustacheValue(_ value: JSONValue) -> Any {
        switch value {
        case .null: return false
        case .bool(let flag): return flag
        case .int(let number): return number
        case .double(let number): return number
        case .string(let text): return text
        case .array(let values): return values.map(mustacheValue)
        case .object(let object): return object.mapValues(mustacheValue)
        }
    }
}

/// A small reader of Mustache tags, enough to know which names a template prints and inside which sections.
enum MustacheScan {
    indirect enum Node: Equatable {
        case variable(String)
        case section(String, inverted: Bool, children: [Node])
    }

    static func parse(_ text: String, field: String) throws(ParleyError) -> [Node] {
        var open = "{{", close = "}}"
        var stack: [(name: String, inverted: Bool, children: [Node])] = [("", false, [])]
        var rest = Substring(text)
        while let start = rest.range(of: open) {
            rest = rest[start.upperBound...]
            var content: Substring
            if open == "{{", rest.first == "{" {
                guard let end = rest.range(of: "}}}") else { throw ParleyError.invalidTemplate(field, "an unclosed '{{{' tag") }
                content = "&" + rest[rest.index(after: rest.startIndex)..<end.lowerBound]
                rest = rest[end.upperBound...]
            } else {
                guard let end = rest.range(of: close) else { throw ParleyError.invalidTemplate(field, "an unclosed '\(open)' tag") }
                content = rest[..<end.lowerBound]
                rest = rest[end.upperBound...]
            }
            content = Substring(content.trimmingCharacters(in: .whitespaces))
            guard let sigil = content.first else { throw ParleyError.invalidTemplate(field, "an empty tag") }
            let name = { (tag: Substring) -> String in
                var inner = tag.trimmingCharacters(in: .whitespaces)
                // swift-mustache transforms: `uppercased(name)`, `count(items)`.
                while let paren = inner.firstIndex(of: "("), inner.hasSuffix(")") {
                    inner = String(inner[inner.index(after: paren)..<inner.index(before: inner.endIndex)]).trimmingCharacters(in: .whitespaces)
                }
                return inner
            }
            switch sigil {
            case "!", "%":
                continue
            case "=":
                guard content.count > 2, content.hasSuffix("=") else { throw ParleyError.invalidTemplate(field, "a bad delimiter change") }
                let delimiters = content.dropFirst().dropLast().split(separator: " ", omittingEmptySubsequences: true)
                guard delimiters.count == 2 else { throw ParleyError.invalidTemplate(field, "a bad delimiter change") }
                open = String(delimiters[0])
                close = String(delimiters[1])
            case "#", "^":
                stack.append((name(content.dropFirst()), sigil == "^", []))
            case "/":
                let closing = name(content.dropFirst())
                guard stack.count > 1, let section = stack.popLast(), section.name == closing else {
                    throw ParleyError.invalidTemplate(field, "'\(closing)' closes a section that is not open")
                }
                stack[stack.count - 1].children.append(.section(section.name, inverted: section.inverted, children: section.children))
            case ">", "<", "$":
                throw ParleyError.invalidTemplate(field, "partials and blocks are not supported in notification templates")
            case "&", "{":
                stack[stack.count - 1].children.append(.variable(name(content.dropFirst())))
            default:
                stack[stack.count - 1].children.append(.variable(name(content)))
            }
        }
        guard stack.count == 1 else { throw ParleyError.invalidTemplate(field, "section '\(stack.last?.name ?? "")' is not closed") }
        return stack[0].children
    }

    /// The first printed variable that does not resolve, walking the data as Mustache would.
    static func firstMissing(in nodes: [Node], stack: [JSONValue]) -> String? {
        for node in nodes {
            switch node {
            case .variable(let name):
                let value = resolve(name, stack: stack)
                if value == nil || value == .null { return name }
            case .section(let name, let inverted, let children):
                let value = resolve(name, stack: stack)
                let falsy: Bool = switch value {
                case nil, .null?, .bool(false)?: true
                case .array(let items)?: items.isEmpty
                default: false
                }
                if inverted {
                    if falsy, let missing = firstMissing(in: children, stack: stack) { return missing }
                    continue
                }
                guard !falsy, let value else { continue }
                switch value {
                case .array(let items):
                    for item in items {
                        if let missing = firstMissing(in: children, stack: stack + [item]) { return missing }
                    }
                case .bool:
                    if let missing = firstMissing(in: children, stack: stack) { return missing }
                default:
                    if let missing = firstMissing(in: children, stack: stack + [value]) { return missing }
                }
            }
        }
        return nil
    }

    /// Mustache name lookup: `.` is the current value; the first part of a dotted name is searched from the
    /// innermost context outwards, the rest is looked up inside what was found.
    static func resolve(_ name: String, stack: [JSONValue]) -> JSONValue? {
        if name == "." { return stack.last }
        let parts = name.split(separator: ".").map(String.init)
        guard let first = parts.first else { return nil }
        let contexts: [JSONValue] = name.hasPrefix(".") ? Array(stack.suffix(1)) : Array(stack.reversed())
        for context in contexts {
            guard let found = context[first] else { continue }
            var value = found
            for part in parts.dropFirst() {
                guard let next = value[part] else { return nil }
                value = next
            }
            return value
        }
        return nil
    }
}
