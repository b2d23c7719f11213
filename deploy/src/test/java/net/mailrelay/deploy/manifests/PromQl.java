package net.mailrelay.deploy.manifests;

import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The metric names a PromQL expression reads (as written in Grafana panels, Prometheus rules and KEDA
 * triggers). Not a parser, but careful: string literals, label matchers, ranges, grouping label lists,
 * numbers and durations are taken out first, so that what remains are functions, keywords and metric
 * names. An identifier called like a function must be a PromQL (or Grafana variable-query) function, so
 * that a misspelt function is an error instead of being taken for a metric.
 */
final class PromQl {

    private static final Set<String> AGGREGATIONS = Set.of("sum", "min", "max", "avg", "group", "stddev", "stdvar",
            "count", "count_values", "bottomk", "topk", "quantile", "limitk", "limit_ratio");
    private static final Set<String> FUNCTIONS = Set.of("abs", "absent", "absent_over_time", "acos", "acosh", "asin",
            "asinh", "atan", "atanh", "avg_over_time", "ceil", "changes", "clamp", "clamp_max", "clamp_min", "cos", "cosh",
            "count_over_time", "day_of_month", "day_of_week", "day_of_year", "days_in_month", "deg", "delta", "deriv",
            "double_exponential_smoothing", "exp", "floor", "histogram_avg", "histogram_count", "histogram_fraction",
            "histogram_quantile", "histogram_stddev", "histogram_stdvar", "histogram_sum", "holt_winters", "hour", "idelta",
            "increase", "info", "irate", "label_join", "label_replace", "last_over_time", "ln", "log10", "log2",
            "mad_over_time", "max_over_time", "min_over_time", "minute", "month", "pi", "predict_linear",
            "present_over_time", "quantile_over_time", "rad", "rate", "resets", "round", "scalar", "sgn", "sin", "sinh",
            "sort", "sort_by_label", "sort_by_label_desc", "sort_desc", "sqrt", "stddev_over_time", "stdvar_over_time",
            "sum_over_time", "tan", "tanh", "time", "timestamp", "vector", "year", "start", "end");
    /** Grafana's variable queries: label_values(metric, label), label_names(), metrics(regex), query_result(expr). */
    private static final Set<String> GRAFANA_FUNCTIONS = Set.of("label_values", "label_names", "metrics", "query_result");
    private static final Set<String> KEYWORDS = Set.of("by", "without", "on", "ignoring", "group_left", "group_right",
            "bool", "and", "or", "unless", "offset", "atan2", "inf", "nan");

    private static final Pattern NAME_MATCHER = Pattern.compile("__name__\\s*(=~|!=|!~|=)\\s*\"([^\"]*)\"");
    private static final Pattern STRINGS = Pattern.compile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`");
    private static final Pattern VARIABLES = Pattern.compile("\\$\\{[^}]*}|\\$\\w+|\\[\\[\\w+]]");
    private static final Pattern COMMENTS = Pattern.compile("#[^\\n]*");
    private static final Pattern BRACES = Pattern.compile("\\{[^{}]*}");
    private static final Pattern BRACKETS = Pattern.compile("\\[[^\\[\\]]*]");
    private static final Pattern LABEL_LISTS = Pattern.compile("\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^()]*\\)");
    private static final Pattern LABEL_VALUES_2 = Pattern.compile("\\blabel_values\\s*\\(([^(),]*(?:\\{})?)\\s*,\\s*[A-Za-z_][A-Za-z0-9_]*\\s*\\)");
    private static final Pattern LABEL_VALUES_1 = Pattern.compile("\\blabel_values\\s*\\(\\s*[A-Za-z_][A-Za-z0-9_]*\\s*\\)");
    private static final Pattern MODIFIERS = Pattern.compile("\\boffset\\s+-?\\w+|@\\s*[-+]?[0-9.]+");
    private static final Pattern NUMBERS = Pattern.compile("(?<![A-Za-z0-9_:.])(?:0[xX][0-9a-fA-F]+|[0-9]*\\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(?![A-Za-z0-9_:])");
    private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z_:][A-Za-z0-9_:]*");
    private static final Pattern CALL = Pattern.compile("\\s*(?:\\(|(?:by|without)\\s*\\()");

    private static final Pattern MATCHER_LABELS = Pattern.compile("([A-Za-z_][A-Za-z0-9_]*)\\s*(?:=~|!~|!=|=)\\s*[\"'`]");
    private static final Pattern GROUPING = Pattern.compile("\\b(?:by|without|on|ignoring|group_left|group_right)\\s*\\(([^()]*)\\)");
    private static final Pattern LABEL_VALUES_LABEL = Pattern.compile("\\blabel_values\\s*\\((?:[^(),]*,)?\\s*([A-Za-z_][A-Za-z0-9_]*)\\s*\\)");

    private PromQl() {
    }

    /**
     * The label names {@code expr} relies on: those of its label matchers, of its grouping clauses
     * (by, without, on, ignoring, group_left, group_right) and of Grafana's label_values.
     */
    static Set<String> labelNames(String expr) {
        Set<String> labels = new TreeSet<>();
        Matcher braces = BRACES.matcher(expr);
        while (braces.find()) {
            Matcher m = MATCHER_LABELS.matcher(braces.group());
            while (m.find()) {
                labels.add(m.group(1));
            }
        }
        Matcher g = GROUPING.matcher(expr);
        while (g.find()) {
            for (String l : g.group(1).split(",")) {
                if (!l.isBlank()) {
                    labels.add(l.strip());
                }
            }
        }
        Matcher v = LABEL_VALUES_LABEL.matcher(expr);
        while (v.find()) {
            labels.add(v.group(1));
        }
        labels.remove("__name__");
        return labels;
    }

    /** The metric names {@code expr} reads, in order of name. */
    static Set<String> metricNames(String expr) {
        Set<String> names = new TreeSet<>();
        Matcher byName = NAME_MATCHER.matcher(expr);
        while (byName.find()) {
            if (!byName.group(1).equals("=")) {
                throw new IllegalArgumentException("cannot check a __name__ matcher other than '=': " + expr);
            }
            names.add(byName.group(2));
        }
        String s = STRINGS.matcher(expr).replaceAll(" \"\" ");
        s = COMMENTS.matcher(s).replaceAll(" ");
        s = VARIABLES.matcher(s).replaceAll(" 1 ");
        s = BRACES.matcher(s).replaceAll("{}");
        s = BRACKETS.matcher(s).replaceAll("[]");
        s = LABEL_LISTS.matcher(s).replaceAll("$1 ()");
        // label_values(label) first: what label_values(metric, label) leaves would look like it.
        s = LABEL_VALUES_1.matcher(s).replaceAll(" ");
        s = LABEL_VALUES_2.matcher(s).replaceAll("label_values($1)");
        s = MODIFIERS.matcher(s).replaceAll(" ");
        s = NUMBERS.matcher(s).replaceAll(" ");
        Matcher m = IDENTIFIER.matcher(s);
        while (m.find()) {
            String id = m.group();
            if (KEYWORDS.contains(id.toLowerCase(Locale.ROOT))) {
                continue;
            }
            Matcher call = CALL.matcher(s).region(m.end(), s.length());
            if (call.lookingAt()) {
                boolean grouped = !call.group().trim().equals("(");
                if (grouped ? !AGGREGATIONS.contains(id)
                        : !(AGGREGATIONS.contains(id) || FUNCTIONS.contains(id) || GRAFANA_FUNCTIONS.contains(id))) {
                    throw new IllegalArgumentException("'" + id + "' is not a PromQL " + (grouped ? "aggregation" : "function")
                            + ", in: " + expr);
                }
                continue;
            }
            names.add(id);
        }
        return names;
    }
}
