using System.Globalization;
using System.Text;
using System.Xml;

namespace PublishingPoint.Media.Smooth;

/// <summary>Writes the SMIL server manifest (.ism) that sits next to the archive files of a finished point.</summary>
public static class ServerManifestWriter
{
    public static byte[] Write(string clientManifestName, IEnumerable<ServerManifestTrack> tracks)
    {
        ArgumentNullException.ThrowIfNull(tracks);
        using var buffer = new MemoryStream();
        var settings = new XmlWriterSettings { Encoding = new UTF8Encoding(false), Indent = true };
        using (var xml = XmlWriter.Create(buffer, settings))
        {
            const string Ns = "http://www.w3.org/2001/SMIL20/Language";
            xml.WriteStartDocument();
            xml.WriteStartElement("smil", Ns);
            xml.WriteStartElement("head", Ns);
            xml.WriteStartElement("meta", Ns);
            xml.WriteAttributeString("name", "clientManifestRelativePath");
            xml.WriteAttributeString("content", clientManifestName);
            xml.WriteEndElement();
            xml.WriteEndElement();
            xml.WriteStartElement("body", Ns);
            xml.WriteStartElement("switch", Ns);
            foreach (var track in tracks)
            {
                xml.WriteStartElement(track.Kind, Ns);
                if (track.Source is not null)
                {
                    xml.WriteAttributeString("src", track.Source);
                }

                xml.WriteAttributeString("systemBitrate", track.SystemBitrate.ToString(CultureInfo.InvariantCulture));
                foreach (var (name, value) in track.Parameters)
                {
                    xml.WriteStartElement("param", Ns);
                    xml.WriteAttributeString("name", name);
                    xml.WriteAttributeString("value", value);
                    xml.WriteAttributeString("valuetype", "data");
                    xml.WriteEndElement();
                }

                xml.WriteEndElement();
            }

            xml.WriteEndDocument();
        }

        return buffer.ToArray();
    }
}
