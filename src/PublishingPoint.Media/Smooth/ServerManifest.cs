using System.Globalization;
using System.Xml;

namespace PublishingPoint.Media.Smooth;

/// <summary>One track of a Smooth server manifest (the SMIL 2.0 'switch' entries an encoder announces).</summary>
public sealed record ServerManifestTrack
{
    /// <summary>"video", "audio" or "textstream", from the SMIL element name.</summary>
    public required string Kind { get; init; }

    public int SystemBitrate { get; init; }

    public uint TrackId { get; init; }

    public string? TrackName { get; init; }

    public string? Source { get; init; }

    public string? Language { get; init; }

    /// <summary>Every 'param' by name (CodecPrivateData, FourCC, MaxWidth, SamplingRate, ...).</summary>
    public IReadOnlyDictionary<string, string> Parameters { get; init; } = new Dictionary<string, string>();

    public string? Parameter(string name) => Parameters.TryGetValue(name, out var value) ? value : null;

    public int IntParameter(string name) =>
        int.TryParse(Parameter(name), NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : 0;
}

/// <summary>
/// Reads the SMIL server manifest carried in the ISML 'uuid' box at the start of a Smooth ingest
/// (and written as the .ism file next to an archive). Hostile input: no DTDs, bounded size.
/// </summary>
public static class ServerManifest
{
    public const int MaxBytes = 1 << 20;

    /// <summary>Reads the manifest; leading bytes before the first '&lt;' (the ISML box's version and flags) and trailing NULs are ignored.</summary>
    public static IReadOnlyList<ServerManifestTrack> Read(ReadOnlySpan<byte> xml)
    {
        var start = xml.IndexOf((byte)'<');
        xml = start < 0 ? [] : xml[start..].TrimEnd((byte)0);
        if (xml.Length > MaxBytes)
        {
            throw new FormatException($"server manifest of {xml.Length} bytes is over the {MaxBytes}-byte limit");
        }

        var settings = new XmlReaderSettings
        {
            DtdProcessing = DtdProcessing.Prohibit,
            XmlResolver = null,
            IgnoreComments = true,
            IgnoreWhitespace = true,
            MaxCharactersInDocument = MaxBytes,
        };
        var tracks = new List<ServerManifestTrack>();
        using var stream = new MemoryStream(xml.ToArray(), writable: false);
        try
        {
            using var reader = XmlReader.Create(stream, settings);
            while (reader.Read())
            {
                if (reader.NodeType == XmlNodeType.Element && reader.LocalName is "video" or "audio" or "textstream")
                {
                    tracks.Add(ReadTrack(reader));
                }
            }
        }
        catch (XmlException e)
        {
            throw new FormatException($"server manifest is not well-formed XML: {e.Message}", e);
        }

        return tracks;
    }

    private static ServerManifestTrack ReadTrack(XmlReader reader)
    {
        var kind = reader.LocalName;
        var bitrate = ParseInt(reader.GetAttribute("systemBitrate"));
        var source = reader.GetAttribute("src");
        var language = reader.GetAttribute("systemLanguage");
        var parameters = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        if (!reader.IsEmptyElement)
        {
            var depth = reader.Depth;
            while (reader.Read() && !(reader.NodeType == XmlNodeType.EndElement && reader.Depth == depth))
            {
                if (reader.NodeType == XmlNodeType.Element && reader.LocalName == "param"
                    && reader.GetAttribute("name") is { Length: > 0 } name)
                {
                    parameters[name] = reader.GetAttribute("value") ?? string.Empty;
                }
            }
        }

        if (bitrate == 0)
        {
            bitrate = ParseInt(parameters.GetValueOrDefault("systemBitrate"));
        }

        return new ServerManifestTrack
        {
            Kind = kind,
            SystemBitrate = bitrate,
            TrackId = (uint)Math.Max(0, ParseInt(parameters.GetValueOrDefault("trackID"))),
            TrackName = parameters.GetValueOrDefault("trackName"),
            Source = source,
            Language = language ?? parameters.GetValueOrDefault("systemLanguage"),
            Parameters = parameters,
        };
    }

    private static int ParseInt(string? text) =>
        int.TryParse(text, NumberStyles.Integer, CultureInfo.InvariantCulture, out var value) ? value : 0;
}
