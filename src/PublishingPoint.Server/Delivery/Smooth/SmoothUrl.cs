using System.Globalization;

namespace PublishingPoint.Server.Delivery.Smooth;

/// <summary>
/// A Smooth Streaming fragment or initialization URL under <c>/{point}.isml/</c>, read without a regular expression:
/// <c>QualityLevels({bitrate})/Fragments({name}={time})</c>, <c>QualityLevels({bitrate})/FragmentInfo({name}={time})</c>
/// (the fragment's 'moof' alone, which IIS answers and dash.js asks for to learn of later fragments from its 'tfrf')
/// and <c>QualityLevels({bitrate})/Init({name})</c>, the
/// literal parts in any case; a bitrate of 1 to 10 digits that fits an int, a name of 1 to 64 of A-Z a-z 0-9 . _ -,
/// a time of 1 to 20 digits with an optional '-' that fits a long.
/// </summary>
internal readonly record struct SmoothUrl(bool IsInit, int Bitrate, string Name, long Time, bool IsInfo = false)
{
    private const string Levels = "QualityLevels(";
    private const string Fragments = ")/Fragments(";
    private const string FragmentInfo = ")/FragmentInfo(";
    private const string Init = ")/Init(";

    public static bool TryParse(string rest, out SmoothUrl url)
    {
        url = default;
        var text = rest.AsSpan();
        if (!text.StartsWith(Levels, StringComparison.OrdinalIgnoreCase) || !text.EndsWith(")", StringComparison.Ordinal))
        {
            return false;
        }

        text = text[Levels.Length..^1];
        var close = text.IndexOf(')');
        if (close < 0 || !TryInt(text[..close], out var bitrate))
        {
            return false;
        }

        var tail = text[close..];
        if (tail.StartsWith(Init, StringComparison.OrdinalIgnoreCase))
        {
            var name = tail[Init.Length..];
            if (!UrlNames.IsTrackName(name))
            {
                return false;
            }

            url = new SmoothUrl(true, bitrate, name.ToString(), 0);
            return true;
        }

        var info = tail.StartsWith(FragmentInfo, StringComparison.OrdinalIgnoreCase);
        if (!info && !tail.StartsWith(Fragments, StringComparison.OrdinalIgnoreCase))
        {
            return false;
        }

        var fragment = tail[(info ? FragmentInfo.Length : Fragments.Length)..];
        var equals = fragment.IndexOf('=');
        if (equals < 0 || !UrlNames.IsTrackName(fragment[..equals]) || !TryTime(fragment[(equals + 1)..], out var time))
        {
            return false;
        }

        url = new SmoothUrl(false, bitrate, fragment[..equals].ToString(), time, info);
        return true;
    }

    private static bool TryInt(ReadOnlySpan<char> digits, out int value)
    {
        value = 0;
        return digits.Length is >= 1 and <= 10 && Canonical(digits) && !digits.ContainsAnyExceptInRange('0', '9')
            && int.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }

    private static bool TryTime(ReadOnlySpan<char> text, out long value)
    {
        value = 0;
        var digits = text is ['-', .. var rest] ? rest : text;
        return digits.Length is >= 1 and <= 20 && Canonical(digits) && (digits.Length == text.Length || digits is not "0") && !digits.ContainsAnyExceptInRange('0', '9')
            && long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out value);
    }

    // No leading zero (as the manifest writes numbers): each spelling of one fragment would be cached as a resource of
    // its own, so a client could push the point's real answers out of the caches with them.
    private static bool Canonical(ReadOnlySpan<char> digits) => digits.Length == 1 || digits[0] != '0';
}
