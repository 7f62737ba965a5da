using System.Globalization;
using System.Text;
using System.Xml;

namespace PublishingPoint.Media.Smooth;

/// <summary>Writes a SmoothStreamingMedia client manifest (MS-SSTR 2.2.2) as UTF-8 XML.</summary>
public static class ClientManifestWriter
{
    public static byte[] Write(ClientManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        using var buffer = new MemoryStream();
        var settings = new XmlWriterSettings { Encoding = new UTF8Encoding(false), Indent = true };
        using (var xml = XmlWriter.Create(buffer, settings))
        {
            xml.WriteStartDocument();
            xml.WriteStartElement("SmoothStreamingMedia");
            xml.WriteAttributeString("MajorVersion", "2");
            xml.WriteAttributeString("MinorVersion", "2");
            Attribute(xml, "TimeScale", ClientManifest.DefaultTimeScale);
            Attribute(xml, "Duration", manifest.IsLive ? 0 : manifest.Duration);
            if (manifest.IsLive)
            {
                xml.WriteAttributeString("IsLive", "TRUE");
                Attribute(xml, "LookAheadFragmentCount", manifest.LookAheadFragmentCount);
                Attribute(xml, "DVRWindowLength", manifest.DvrWindowLength);
                xml.WriteAttributeString("CanSeek", "TRUE");
                xml.WriteAttributeString("CanPause", "TRUE");
            }

            foreach (var stream in manifest.Streams)
            {
                WriteStreamIndex(xml, stream);
            }

            xml.WriteEndElement();
            xml.WriteEndDocument();
        }

        return buffer.ToArray();
    }

    private static void WriteStreamIndex(XmlWriter xml, ClientStreamIndex stream)
    {
        xml.WriteStartElement("StreamIndex");
        xml.WriteAttributeString("Type", stream.Type);
        xml.WriteAttributeString("Name", stream.Name);
        if (stream.Language is { Length: > 0 } language && language != "und")
        {
            xml.WriteAttributeString("Language", language);
        }

        Attribute(xml, "TimeScale", stream.TimeScale);
        if (stream.Subtype is { } subtype)
        {
            xml.WriteAttributeString("Subtype", subtype);
        }

        if (stream.ParentStreamIndex is { } parent)
        {
            xml.WriteAttributeString("ParentStreamIndex", parent);
        }

        if (stream.ManifestOutput)
        {
            xml.WriteAttributeString("ManifestOutput", "TRUE");
        }

        Attribute(xml, "Chunks", stream.Chunks.Count);
        Attribute(xml, "QualityLevels", stream.Levels.Count);
        xml.WriteAttributeString("Url", $"QualityLevels({{bitrate}})/Fragments({stream.Name}={{start time}})");
        if (stream.Type == "video" && stream.Levels.Count > 0)
        {
            var maxWidth = 0;
            var maxHeight = 0;
            foreach (var level in stream.Levels)
            {
                maxWidth = Math.Max(maxWidth, level.MaxWidth);
                maxHeight = Math.Max(maxHeight, level.MaxHeight);
            }

            Attribute(xml, "MaxWidth", maxWidth);
            Attribute(xml, "MaxHeight", maxHeight);
            Attribute(xml, "DisplayWidth", maxWidth);
            Attribute(xml, "DisplayHeight", maxHeight);
        }

        for (var i = 0; i < stream.Levels.Count; i++)
        {
            WriteQualityLevel(xml, stream.Type, i, stream.Levels[i]);
        }

        foreach (var chunk in stream.Chunks)
        {
            xml.WriteStartElement("c");
            Attribute(xml, "t", chunk.Time);
            Attribute(xml, "d", chunk.Duration);
            if (chunk.Content is { } content)
            {
                xml.WriteElementString("f", Convert.ToBase64String(content));
            }

            xml.WriteEndElement();
        }

        xml.WriteEndElement();
    }

    private static void WriteQualityLevel(XmlWriter xml, string type, int index, ClientQualityLevel level)
    {
        xml.WriteStartElement("QualityLevel");
        Attribute(xml, "Index", index);
        Attribute(xml, "Bitrate", level.Bitrate);
        xml.WriteAttributeString("FourCC", level.FourCC);
        if (type == "video")
        {
            Attribute(xml, "MaxWidth", level.MaxWidth);
            Attribute(xml, "MaxHeight", level.MaxHeight);
        }
        else if (type == "audio")
        {
            Attribute(xml, "SamplingRate", level.SamplingRate);
            Attribute(xml, "Channels", level.Channels);
            Attribute(xml, "BitsPerSample", level.BitsPerSample);
            Attribute(xml, "PacketSize", level.PacketSize);
            Attribute(xml, "AudioTag", level.AudioTag);
        }

        xml.WriteAttributeString("CodecPrivateData", level.CodecPrivateData);
        xml.WriteEndElement();
    }

    private static void Attribute(XmlWriter xml, string name, long value) =>
        xml.WriteAttributeString(name, value.ToString(CultureInfo.InvariantCulture));
}
