using System.Diagnostics.CodeAnalysis;

namespace PublishingPoint.Server.Points;

/// <summary>
/// A publishing point's name as it appears in URLs: one or more safe segments, the last ending in ".isml"
/// (<c>live/ch1.isml</c>). Everything here comes from the network, so only a small character set is accepted
/// and nothing can climb out of the data folder.
/// </summary>
public sealed record PointPath
{
    public const string Extension = ".isml";
    private const int MaxSegments = 8;
    private const int MaxSegmentLength = 64;

    // First segments the server's own routes take (any letter case): a point under one could never be played.
    private static readonly HashSet<string> _reserved = new(["api", "dashboard", "s", "scalar", "openapi", "metrics", "health"], StringComparer.OrdinalIgnoreCase);

    private PointPath(string value) => Value = value;

    /// <summary>"live/ch1.isml".</summary>
    public string Value { get; }

    /// <summary>"ch1": the last segment without its extension.</summary>
    public string Name => Path.GetFileNameWithoutExtension(Value[(Value.LastIndexOf('/') + 1)..]);

    /// <summary>Splits a request path into the point and what follows it ("Manifest", "Streams(enc1)", ...).</summary>
    public static bool TrySplit(string? requestPath, [NotNullWhen(true)] out PointPath? point, out string remainder, out string? error)
    {
        point = null;
        remainder = string.Empty;
        error = null;
        if (string.IsNullOrEmpty(requestPath))
        {
            return false;
        }

        var path = requestPath.TrimStart('/');
        var end = path.IndexOf(Extension + "/", StringComparison.OrdinalIgnoreCase);
        if (end < 0)
        {
            if (!path.EndsWith(Extension, StringComparison.OrdinalIgnoreCase))
            {
                return false;
            }

            end = path.Length - Extension.Length;
        }

        var value = path[..(end + Extension.Length)];
        remainder = path.Length > value.Length ? path[(value.Length + 1)..] : string.Empty;
        if (!TryParse(value, out point, out error))
        {
            return false;
        }

        return true;
    }

    public static bool TryParse(string value, [NotNullWhen(true)] out PointPath? point, out string? error)
    {
        point = null;
        error = null;
        var segments = value.Split('/');
        if (segments.Length > MaxSegments)
        {
            error = $"a point path has at most {MaxSegments} segments";
            return false;
        }

        foreach (var segment in segments)
        {
            if (!IsSafeSegment(segment))
            {
                error = $"path segment '{Truncate(segment)}' is not allowed: use 1-{MaxSegmentLength} of A-Z a-z 0-9 . _ - (not starting with '.')";
                return false;
            }
        }

        if (!value.EndsWith(Extension, StringComparison.Ordinal) || segments[^1].Length == Extension.Length)
        {
            error = $"a publishing point name ends with '{Extension}'";
            return false;
        }

        // A point inside a point: requests split at the first one (the outer point would get them), and deleting the outer
        // point would delete the inner one's folder with it.
        if (segments[..^1].Any(s => s.EndsWith(Extension, StringComparison.OrdinalIgnoreCase)))
        {
            error = $"a publishing point cannot be inside another: only the last segment ends with '{Extension}'";
            return false;
        }

        point = new PointPath(value);
        return true;
    }

    /// <summary>
    /// Whether a new point may not take this name: its first segment is one of the server's own routes (a point
    /// under /dashboard or GET /api/points/... could not be played). Checked when a point is made, not when a name is
    /// parsed: a point made before the rule still recovers, plays where it can, and can be deleted.
    /// </summary>
    public bool IsReserved([NotNullWhen(true)] out string? error)
    {
        var first = Value.IndexOf('/', StringComparison.Ordinal);
        if (first > 0 && _reserved.Contains(Value[..first]))
        {
            error = $"'{Value[..first]}/' is the server's own (its operator routes, dashboard and signed URLs): no new point is made under it";
            return true;
        }

        error = null;
        return false;
    }

    /// <summary>Stream ids and file names follow the same rule as path segments.</summary>
    public static bool IsSafeSegment(string segment)
    {
        if (segment.Length is 0 or > MaxSegmentLength || segment[0] == '.' || segment.Contains("..", StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var c in segment)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }

    /// <summary>A hostile string fit for a message or a log line: at most 40 characters, control characters and line and paragraph separators (a forged line break) escaped.</summary>
    public static string Truncate(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var shown = text.Length <= 40 ? text : text[..40] + "...";
        return shown.AsSpan().IndexOfAnyInRange('\0', '\u001f') < 0 && shown.AsSpan().IndexOfAnyInRange('\u007f', '\u009f') < 0
            && shown.AsSpan().IndexOfAnyInRange('\u2028', '\u2029') < 0 ? shown : Escape(shown);
    }

    private static string Escape(string text)
    {
        var escaped = new System.Text.StringBuilder(text.Length + 8);
        foreach (var c in text)
        {
            if (char.IsControl(c) || c is '\u2028' or '\u2029')
            {
                escaped.Append(System.Globalization.CultureInfo.InvariantCulture, $"\\x{(int)c:x2}");
            }
            else
            {
                escaped.Append(c);
            }
        }

        return escaped.ToString();
    }

    public override string ToString() => Value;
}
