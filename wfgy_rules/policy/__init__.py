"""Stage 2, documents → compiled rules: the loader, the compiler and what a rule may use
(JMESPath expressions and their closure compiler, functions, operators, versions, regexes,
durations), and the opt-in policy cache."""
