using System.Globalization;

namespace PublishingPoint.Server.Delivery.Hls;

internal enum HlsUrlKind
{
    Playlist,
    IFramePlaylist,
    Segment,
    Part,
    Init,

    /// <summary>An fMP4 segment by its time (S@t, lifted) as a static MPD's $Time$ template names it.</summary>
    TimedSegment,
}

/// <summary>
/// A rendition's HLS URL under <c>/{point}.isml/</c>, read without a regular expression or an allocation (a player
/// asks tens of thousands a second):
/// <code>
/// hls/{name}-{bitrate}[-iframes][-fmp4].m3u8
/// hls/{name}-{bitrate}/{n}.ts|m4s|aac
/// hls/{name}-{bitrate}/{n}.{part}.m4s
/// hls/{name}-{bitrate}/init.mp4
/// hls/{name}-{bitrate}/t{time}.m4s
/// </code>
/// A name is 1 to 64 of A-Z a-z 0-9 . _ - (it may hold '-' and digits: the bitrate is the last run of digits after a
/// '-'); a bitrate 1 to 10 digits, a segment number 1 to 18, a part number 1 to 4.
/// </summary>
/// <param name="Bitrate">The bitrate, or -1 when its digits do not fit an int (no track has it).</param>
/// <param name="Extension">"ts", "m4s" or "aac" for a segment.</param>
internal readonly record struct HlsUrl(string Rest, int NameLength, HlsUrlKind Kind, int Bitrate, bool Fmp4, long Sequence, int Part, string Extension)
{
    private const string Prefix = "hls/";

    /// <summary>The track's name (a slice of the URL).</summary>
    public ReadOnlySpan<char> Name => Rest.AsSpan(Prefix.Length, NameLength);

    public static bool TryParse(string rest, out HlsUrl url)
    {
        url = default;
        if (rest is null || !rest.StartsWith(Prefix, StringComparison.Ordinal))
        {
            return false;
        }

        var path = rest.AsSpan(Prefix.Length);
        var slash = path.IndexOf('/');
        return slash < 0 ? TryPlaylist(rest, path, out url) : TryFile(rest, path[..slash], path[(slash + 1)..], out url);
    }

    private static bool TryPlaylist(string rest, ReadOnlySpan<char> path, out HlsUrl url)
    {
        url = default;
        if (!path.EndsWith(".m3u8", StringComparison.Ordinal))
        {
            return false;
        }

        var body = path[..^".m3u8".Length];
        var fmp4 = body.EndsWith("-fmp4", StringComparison.Ordinal);
        body = fmp4 ? body[..^"-fmp4".Length] : body;
        var iframes = body.EndsWith("-iframes", StringComparison.Ordinal);
        body = iframes ? body[..^"-iframes".Length] : body;
        if (!TryRendition(body, out var nameLength, out var bitrate))
        {
            return false;
        }

        url = new HlsUrl(rest, nameLength, iframes ? HlsUrlKind.IFramePlaylist : HlsUrlKind.Playlist, bitrate, fmp4, 0, 0, string.Empty);
        return true;
    }

    private static bool TryFile(string rest, ReadOnlySpan<char> folder, ReadOnlySpan<char> file, out HlsUrl url)
    {
        url = default;
        if (!TryRendition(folder, out var nameLength, out var bitrate))
        {
            return false;
        }

        if (file.SequenceEqual("init.mp4"))
        {
            url = new HlsUrl(rest, nameLength, HlsUrlKind.Init, bitrate, true, 0, 0, string.Empty);
            return true;
        }

        var dot = file.IndexOf('.');
        if (dot > 1 && file[0] == 't' && file[dot..].SequenceEqual(".m4s"))
        {
            if (!TryDigits(file[1..dot], 19, out var time))
            {
                return false;
            }

            url = new HlsUrl(rest, nameLength, HlsUrlKind.TimedSegment, bitrate, true, time, 0, "m4s");
            return true;
        }

        if (dot < 0 || !TryDigits(file[..dot], 18, out var sequence))
        {
            return false;
        }

        var tail = file[(dot + 1)..];
        string? extension = tail switch
        {
            "ts" => "ts",
            "m4s" => "m4s",
            "aac" => "aac",
            _ => null,
        };
        if (extension is not null)
        {
            url = new HlsUrl(rest, nameLength, HlsUrlKind.Segment, bitrate, extension == "m4s", sequence, 0, extension);
            return true;
        }

        if (!tail.EndsWith(".m4s", StringComparison.Ordinal) || !TryDigits(tail[..^".m4s".Length], 4, out var part))
        {
            return false;
        }

        url = new HlsUrl(rest, nameLength, HlsUrlKind.Part, bitrate, true, sequence, (int)part, "m4s");
        return true;
    }

    // "{name}-{bitrate}": the bitrate is what follows the last '-'.
    private static bool TryRendition(ReadOnlySpan<char> rendition, out int nameLength, out int bitrate)
    {
        bitrate = 0;
        nameLength = rendition.LastIndexOf('-');
        if (nameLength < 1 || !UrlNames.IsTrackName(rendition[..nameLength]) || !TryDigits(rendition[(nameLength + 1)..], 10, out var value))
        {
            return false;
        }

        bitrate = value <= int.MaxValue ? (int)value : -1;
        return true;
    }

    // Written as the playlists write them, with no leading zero: every spelling of one number would be a resource of its
    // own to the output cache and the replay lane, so a client could push a point's real playlists out with them.
    private static bool TryDigits(ReadOnlySpan<char> digits, int maxLength, out long value)
    {
        value = 0;
        return digits.Length >= 1 && digits.Length <= maxLength && (digits.Length == 1 || digits[0] != '0') && !digits.ContainsAnyExceptInRange('0', '9')
            && long.TryParse(digits, NumberStyles.None, CultureInfo.InvariantCulture, out value);
    }
}
