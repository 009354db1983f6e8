extension String {
    /// Without leading and trailing spaces and newlines (kernel files end in one).
    package func trimmingSpaces() -> String {
        String(drop(while: { $0 == " " || $0 == "\n" }).reversed().drop(while: { $0 == " " || $0 == "\n" }).reversed())
    }
}
