using System.Globalization;
using System.Text;

namespace PublishingPoint.Media.Hls;

/// <summary>Writes a media playlist (RFC 8216 4.3.1-4.3.3) as UTF-8 text with LF line ends.</summary>
public static class MediaPlaylistWriter
{
    public static string Write(MediaPlaylist playlist)
    {
        ArgumentNullException.ThrowIfNull(playlist);
        var text = new StringBuilder(128 + (playlist.Segments.Count * 96));
        WriteHeader(text, playlist);
        WriteDateRanges(text, playlist);
        WriteSegments(text, playlist);
        WriteTail(text, playlist);
        return text.ToString();
    }

    private static void WriteHeader(StringBuilder text, MediaPlaylist playlist)
    {
        var inv = CultureInfo.InvariantCulture;
        text.Append("#EXTM3U\n");
        text.Append(inv, $"#EXT-X-VERSION:{playlist.Version}\n");
        text.Append(inv, $"#EXT-X-TARGETDURATION:{playlist.TargetDuration}\n");
        if (playlist.PartTarget is { } partTarget && !playlist.IsVod)
        {
            text.Append(inv, $"#EXT-X-SERVER-CONTROL:CAN-BLOCK-RELOAD=YES,CAN-SKIP-UNTIL={playlist.SkipBoundary.TotalSeconds:0.###},PART-HOLD-BACK={3 * partTarget.TotalSeconds:0.###},HOLD-BACK={3 * playlist.TargetDuration}\n");
        }

        if (playlist.PartTarget is { } target)
        {
            text.Append(inv, $"#EXT-X-PART-INF:PART-TARGET={target.TotalSeconds:0.###}\n");
        }

        text.Append(inv, $"#EXT-X-MEDIA-SEQUENCE:{playlist.MediaSequence}\n");
        if (playlist.DiscontinuitySequence > 0)
        {
            text.Append(inv, $"#EXT-X-DISCONTINUITY-SEQUENCE:{playlist.DiscontinuitySequence}\n");
        }

        if (playlist.IsVod)
        {
            text.Append("#EXT-X-PLAYLIST-TYPE:VOD\n");
        }

        if (playlist.IndependentSegments)
        {
            text.Append("#EXT-X-INDEPENDENT-SEGMENTS\n");
        }

        if (playlist.IFramesOnly)
        {
            text.Append("#EXT-X-I-FRAMES-ONLY\n");
        }

        if (playlist.MapUri is { } map)
        {
            text.Append(inv, $"#EXT-X-MAP:URI=\"{map}\"\n");
        }

        if (playlist.SkippedSegments > 0)
        {
            text.Append(inv, $"#EXT-X-SKIP:SKIPPED-SEGMENTS={playlist.SkippedSegments}\n");
        }
    }

    private static void WriteSegments(StringBuilder text, MediaPlaylist playlist)
    {
        var inv = CultureInfo.InvariantCulture;
        var first = true;
        foreach (var segment in playlist.Segments)
        {
            // A discontinuity at the head of the window has nothing before it to be discontinuous with; after EXT-X-SKIP it has.
            if (segment.Discontinuity && (!first || playlist.SkippedSegments > 0))
            {
                text.Append("#EXT-X-DISCONTINUITY\n");
            }

            if (segment.ProgramDateTime is { } time && (first || segment.Discontinuity))
            {
                text.Append(inv, $"#EXT-X-PROGRAM-DATE-TIME:{time.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss.fff'Z'}\n");
            }

            // A segment that is a gap has no parts to load either (RFC 8216bis 4.4.4.9: its parts carry GAP=YES).
            foreach (var part in segment.Parts ?? [])
            {
                WritePart(text, part, segment.Gap);
            }

            if (segment.Gap)
            {
                text.Append("#EXT-X-GAP\n");
            }

            text.Append(inv, $"#EXTINF:{segment.Duration.TotalSeconds:0.000},\n");
            if (segment.ByteRange is { } range)
            {
                text.Append(inv, $"#EXT-X-BYTERANGE:{range.Length}@{range.Offset}\n");
            }

            text.Append(segment.Uri).Append('\n');
            first = false;
        }
    }

    private static void WriteDateRanges(StringBuilder text, MediaPlaylist playlist)
    {
        var inv = CultureInfo.InvariantCulture;
        foreach (var range in playlist.DateRanges)
        {
            text.Append(inv, $"#EXT-X-DATERANGE:ID=\"{range.Id}\"");
            if (range.Class is { } eventClass)
            {
                // A quoted-string holds no double quote, CR or LF (RFC 8216 4.2).
                text.Append(inv, $",CLASS=\"{eventClass.Replace('"', '\'').Replace('\r', ' ').Replace('\n', ' ')}\"");
            }

            text.Append(inv, $",START-DATE=\"{range.StartDate.UtcDateTime:yyyy-MM-dd'T'HH:mm:ss.fff'Z'}\"");
            if (range.Duration is { } duration)
            {
                text.Append(inv, $",DURATION={duration.TotalSeconds:0.###}");
            }

            if (range.Scte35Attribute is { } attribute && range.Scte35 is { } section)
            {
                text.Append(inv, $",{attribute}=0x").Append(Convert.ToHexString(section));
            }

            text.Append('\n');
        }
    }

    private static void WriteTail(StringBuilder text, MediaPlaylist playlist)
    {
        var inv = CultureInfo.InvariantCulture;
        foreach (var part in playlist.OpenParts)
        {
            WritePart(text, part, gap: false);
        }

        if (playlist.IsVod)
        {
            text.Append("#EXT-X-ENDLIST\n");
        }
        else if (playlist.PreloadHint is { } hint)
        {
            text.Append(inv, $"#EXT-X-PRELOAD-HINT:TYPE=PART,URI=\"{hint}\"\n");
        }

        foreach (var report in playlist.RenditionReports)
        {
            text.Append(inv, $"#EXT-X-RENDITION-REPORT:URI=\"{report.Uri}\",LAST-MSN={report.LastMediaSequence},LAST-PART={report.LastPart}\n");
        }
    }

    private static void WritePart(StringBuilder text, HlsPart part, bool gap) =>
        text.Append(CultureInfo.InvariantCulture, $"#EXT-X-PART:DURATION={part.Duration.TotalSeconds:0.000},URI=\"{part.Uri}\"{(part.Independent ? ",INDEPENDENT=YES" : string.Empty)}{(gap ? ",GAP=YES" : string.Empty)}\n");
}
