namespace PublishingPoint.Media;

/// <summary>
/// Language tags as manifests may carry them (RFC 5646 shape: a 2-3 letter primary language, optional subtags of
/// letters and digits). Anything else an encoder sends, in a SMIL parameter or an 'mdhd' code, becomes "und", so a
/// tag can go into a quoted playlist attribute or an XML attribute without escaping.
/// </summary>
public static class LanguageTag
{
    public const string Undetermined = "und";

    public static string Sanitize(string? tag)
    {
        if (string.IsNullOrEmpty(tag) || tag.Length > 35)
        {
            return Undetermined;
        }

        var parts = tag.Split('-');
        if (parts[0].Length is < 2 or > 3 || !parts[0].All(char.IsAsciiLetter))
        {
            return Undetermined;
        }

        foreach (var part in parts.AsSpan(1))
        {
            if (part.Length is < 1 or > 8 || !part.All(char.IsAsciiLetterOrDigit))
            {
                return Undetermined;
            }
        }

        return tag;
    }
}
