namespace PublishingPoint.Server.Delivery;

/// <summary>How playback URLs name a track: 1 to 64 of A-Z a-z 0-9 . _ - (HLS renditions, Smooth quality levels).</summary>
internal static class UrlNames
{
    public static bool IsTrackName(ReadOnlySpan<char> name)
    {
        if (name.Length is < 1 or > 64)
        {
            return false;
        }

        foreach (var c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '.' or '_' or '-'))
            {
                return false;
            }
        }

        return true;
    }
}
