using System.Globalization;
using System.Text.RegularExpressions;
using PublishingPoint.Media.Codecs.Aac;
using PublishingPoint.Media.IsoBmff;
using PublishingPoint.Media.Smooth;

namespace PublishingPoint.Media.Tracks;

/// <summary>
/// Names the tracks of an ingest the way Smooth clients address them (name + bitrate). The bitrate comes from
/// the SMIL systemBitrate, else from the stream id ("oceans-400k-64k"), else from the 'moov' (btrt/esds).
/// </summary>
public static partial class TrackResolver
{
    /// <param name="isSafeName">Whether a track name from the SMIL may appear in URLs; otherwise "video" or "audio".</param>
    /// <exception cref="TrackRejectedException">The tracks cannot be named.</exception>
    public static Dictionary<uint, TrackDescription> Resolve(IReadOnlyList<TrackInfo> tracks, IReadOnlyList<ServerManifestTrack> manifest, string streamId, Func<string, bool> isSafeName)
    {
        var result = new Dictionary<uint, TrackDescription>();
        var fromName = BitratesInName(streamId);
        string? leftOut = null;
        foreach (var info in tracks)
        {
            if (info.Kind == TrackKind.Other)
            {
                continue;
            }

            var smil = FindSmil(manifest, info);
            if (info.Kind == TrackKind.Audio && WhyAudioIsLeftOut(info, smil?.Parameter("CodecPrivateData")) is { } why)
            {
                leftOut ??= $"audio track {info.TrackId} is left out: {why}";
                continue;
            }

            var kindName = info.Kind == TrackKind.Video ? "video" : "audio";
            var bitrate = smil?.SystemBitrate ?? 0;
            if (bitrate <= 0)
            {
                bitrate = info.Kind == TrackKind.Video ? fromName.Video : fromName.Audio;
            }

            if (bitrate <= 0)
            {
                bitrate = info.AverageBitrate;
            }

            if (bitrate <= 0)
            {
                throw new TrackRejectedException(TrackRejection.Incomplete,
                    $"track {info.TrackId} ({kindName}) has no bitrate: give one in the server manifest, the stream id (e.g. 'ch1-400k-64k') or btrt");
            }

            var name = smil?.TrackName is { Length: > 0 } trackName && isSafeName(trackName) ? trackName : kindName;
            var description = Describe(info, smil, new TrackKey(name, bitrate));
            foreach (var existing in result.Values)
            {
                if (existing.Key == description.Key)
                {
                    throw new TrackRejectedException(TrackRejection.Conflict, $"two tracks of this stream are both {description.Key}");
                }
            }

            result[info.TrackId] = description;
        }

        if (result.Count == 0)
        {
            throw new TrackRejectedException(TrackRejection.Unsupported,
                leftOut is null ? "the 'moov' holds no audio or video track" : $"the 'moov' holds no audio or video track the server can serve ({leftOut})");
        }

        return result;
    }

    /// <summary>
    /// Why the server leaves an audio track out (as it does a track that is neither audio nor video), or null: it serves
    /// AAC that ADTS can carry, as HLS TS and packed audio need it and the other outputs describe it. Taken in, an AC-3
    /// track beside the AAC one (a broadcaster's 5.1 next to stereo) was the point's first audio by bit rate, and
    /// every HLS master and TS segment of the point failed on it.
    /// </summary>
    /// <param name="codecPrivateData">The encoder's SMIL CodecPrivateData (hex), read when the 'moov' has no decoder configuration.</param>
    public static string? WhyAudioIsLeftOut(TrackInfo info, string? codecPrivateData = null)
    {
        ArgumentNullException.ThrowIfNull(info);
        var bytes = info.DecoderConfig.Length == 0 && codecPrivateData is { Length: > 0 } hex && hex.Length % 2 == 0 && hex.All(char.IsAsciiHexDigit)
            ? Convert.FromHexString(hex)
            : info.DecoderConfig;
        AudioSpecificConfig config;
        try
        {
            config = AudioSpecificConfig.Parse(bytes);
        }
        catch (Exception e) when (e is FormatException or InvalidDataException or ArgumentException or IndexOutOfRangeException or NotSupportedException)
        {
            return "it is not AAC with a readable AudioSpecificConfig (AAC is the audio this server serves)";
        }

        return Adts.TryPrepare(config, out _, out var reason) ? null : reason;
    }

    private static TrackDescription Describe(TrackInfo info, ServerManifestTrack? smil, TrackKey key)
    {
        var isVideo = info.Kind == TrackKind.Video;
        // What the encoder's manifest says, when it is what these parameters are made of (four letters or digits; hex):
        // they are written into client manifests and messages as they came.
        var fourCc = smil?.Parameter("FourCC") is { Length: 4 } named && named.All(char.IsAsciiLetterOrDigit) ? named : (isVideo ? "H264" : "AACL");
        var codecPrivate = smil?.Parameter("CodecPrivateData") is { } hex && hex.Length % 2 == 0 && hex.All(char.IsAsciiHexDigit)
            ? hex
            : CodecPrivateData.FromDecoderConfig(info);
        return new TrackDescription
        {
            Key = key,
            Kind = info.Kind,
            Timescale = info.Timescale,
            FourCC = fourCc,
            CodecPrivateData = codecPrivate.ToUpperInvariant(),
            Width = Pick(smil?.IntParameter("MaxWidth"), info.Width),
            Height = Pick(smil?.IntParameter("MaxHeight"), info.Height),
            SamplingRate = Pick(smil?.IntParameter("SamplingRate"), info.SampleRate),
            Channels = Pick(smil?.IntParameter("Channels"), info.Channels),
            BitsPerSample = Pick(smil?.IntParameter("BitsPerSample"), isVideo ? 0 : info.SampleSize == 0 ? 16 : info.SampleSize),
            PacketSize = Pick(smil?.IntParameter("PacketSize"), isVideo ? 0 : 4),
            AudioTag = Pick(smil?.IntParameter("AudioTag"), isVideo ? 0 : 255),
            Language = LanguageTag.Sanitize(smil?.Language is { Length: > 0 } language && language != LanguageTag.Undetermined ? language : info.Language),
            Info = info,
        };
    }

    private static ServerManifestTrack? FindSmil(IReadOnlyList<ServerManifestTrack> manifest, TrackInfo info)
    {
        foreach (var track in manifest)
        {
            if (track.TrackId == info.TrackId)
            {
                return track;
            }
        }

        return null;
    }

    private static int Pick(int? preferred, int fallback) => preferred is > 0 ? preferred.Value : fallback;

    internal static (int Video, int Audio) BitratesInName(string streamId)
    {
        var matches = KiloBitrate().Matches(streamId);
        if (matches.Count == 0)
        {
            return (0, 0);
        }

        var first = int.Parse(matches[0].Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture) * 1000;
        var last = int.Parse(matches[^1].Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture) * 1000;
        return matches.Count == 1 ? (first, first) : (first, last);
    }

    [GeneratedRegex(@"(?<![0-9])([0-9]{1,6})k(?![a-z])", RegexOptions.IgnoreCase | RegexOptions.CultureInvariant)]
    private static partial Regex KiloBitrate();
}
