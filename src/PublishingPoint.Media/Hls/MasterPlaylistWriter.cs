using System.Globalization;
using System.Text;

namespace PublishingPoint.Media.Hls;

/// <summary>Writes a master playlist (RFC 8216 4.3.4) as UTF-8 text with LF line ends.</summary>
public static class MasterPlaylistWriter
{
    public static string Write(MasterPlaylist playlist)
    {
        ArgumentNullException.ThrowIfNull(playlist);
        var inv = CultureInfo.InvariantCulture;
        var text = new StringBuilder(256);
        text.Append("#EXTM3U\n");
        text.Append(inv, $"#EXT-X-VERSION:{playlist.Version}\n");
        if (playlist.IndependentSegments)
        {
            text.Append("#EXT-X-INDEPENDENT-SEGMENTS\n");
        }

        WriteRenditions(text, playlist);
        WriteVariants(text, playlist);
        WriteIFrameStreams(text, playlist);
        return text.ToString();
    }

    private static void WriteRenditions(StringBuilder text, MasterPlaylist playlist)
    {
        var inv = CultureInfo.InvariantCulture;
        foreach (var audio in playlist.Audio)
        {
            text.Append(inv, $"#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=\"{Quoted(audio.GroupId)}\",NAME=\"{Quoted(audio.Name)}\"");
            if (LanguageTag.Sanitize(audio.Language) is var language && language != LanguageTag.Undetermined)
            {
                text.Append(inv, $",LANGUAGE=\"{language}\"");
            }

            text.Append(audio.IsDefault ? ",DEFAULT=YES,AUTOSELECT=YES" : ",DEFAULT=NO,AUTOSELECT=YES");
            if (audio.Channels > 0)
            {
                text.Append(inv, $",CHANNELS=\"{audio.Channels}\"");
            }

            text.Append(inv, $",URI=\"{audio.Uri}\"\n");
        }

        foreach (var captions in playlist.ClosedCaptions)
        {
            text.Append(inv, $"#EXT-X-MEDIA:TYPE=CLOSED-CAPTIONS,GROUP-ID=\"{Quoted(captions.GroupId)}\",NAME=\"{Quoted(captions.Name)}\"");
            if (LanguageTag.Sanitize(captions.Language) is var language && language != LanguageTag.Undetermined)
            {
                text.Append(inv, $",LANGUAGE=\"{language}\"");
            }

            text.Append(captions.IsDefault ? ",DEFAULT=YES,AUTOSELECT=YES" : ",DEFAULT=NO,AUTOSELECT=YES");
            text.Append(inv, $",INSTREAM-ID=\"{captions.InstreamId}\"\n");
        }
    }

    private static void WriteVariants(StringBuilder text, MasterPlaylist playlist)
    {
        var inv = CultureInfo.InvariantCulture;
        foreach (var variant in playlist.Variants)
        {
            WriteStreamAttributes(text, "#EXT-X-STREAM-INF", variant);
            if (variant.FrameRate > 0)
            {
                text.Append(inv, $",FRAME-RATE={variant.FrameRate:0.000}");
            }

            if (variant.AudioGroup is { } group)
            {
                text.Append(inv, $",AUDIO=\"{group}\"");
            }

            if (variant.ClosedCaptions is { } captionGroup)
            {
                text.Append(captionGroup == HlsVariant.NoClosedCaptions ? ",CLOSED-CAPTIONS=NONE" : $",CLOSED-CAPTIONS=\"{Quoted(captionGroup)}\"");
            }

            text.Append('\n').Append(variant.Uri).Append('\n');
        }
    }

    // EXT-X-I-FRAME-STREAM-INF: the attributes of EXT-X-STREAM-INF that apply (4.4.6.3), and its URI as one of them.
    private static void WriteIFrameStreams(StringBuilder text, MasterPlaylist playlist)
    {
        foreach (var iframes in playlist.IFrameStreams)
        {
            WriteStreamAttributes(text, "#EXT-X-I-FRAME-STREAM-INF", iframes);
            text.Append(CultureInfo.InvariantCulture, $",URI=\"{iframes.Uri}\"\n");
        }
    }

    private static void WriteStreamAttributes(StringBuilder text, string tag, HlsVariant variant)
    {
        var inv = CultureInfo.InvariantCulture;
        text.Append(inv, $"{tag}:BANDWIDTH={variant.Bandwidth}");
        if (variant.AverageBandwidth > 0)
        {
            text.Append(inv, $",AVERAGE-BANDWIDTH={variant.AverageBandwidth}");
        }

        text.Append(inv, $",CODECS=\"{variant.Codecs}\"");
        if (variant.Width > 0 && variant.Height > 0)
        {
            text.Append(inv, $",RESOLUTION={variant.Width}x{variant.Height}");
        }
    }

    // RFC 8216 4.2: a quoted-string holds no double quote, CR or LF.
    private static string Quoted(string value) =>
        value.AsSpan().IndexOfAny("\"\r\n") < 0 ? value : value.Replace("\"", "'", StringComparison.Ordinal).Replace("\r", " ", StringComparison.Ordinal).Replace("\n", " ", StringComparison.Ordinal);
}
