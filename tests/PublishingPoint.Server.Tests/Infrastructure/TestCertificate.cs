using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace PublishingPoint.Server.Tests.Infrastructure;

/// <summary>A self-signed certificate for 127.0.0.1 in a PFX file (password "test"), and clients that trust only it.</summary>
public sealed record TestCertificate(string Path, string Thumbprint)
{
    public static async Task<TestCertificate> CreateAsync()
    {
        var path = System.IO.Path.Combine(TempDirectory.Create("pp-cert"), "server.pfx");
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=127.0.0.1", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using var self = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        await File.WriteAllBytesAsync(path, self.Export(X509ContentType.Pfx, "test"));
        return new TestCertificate(path, self.GetCertHashString());
    }

    /// <summary>Server settings that serve HTTPS on a random port with this certificate.</summary>
    public string[] ServerSettings => ["--urls=https://127.0.0.1:0", $"--Kestrel:Certificates:Default:Path={Path}", "--Kestrel:Certificates:Default:Password=test"];

    /// <summary>A client that trusts this certificate, and only it.</summary>
    public HttpClient Trusting(Uri server, Version version) =>
        new(new SocketsHttpHandler { SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate?.GetCertHashString() == Thumbprint } })
        {
            BaseAddress = server,
            DefaultRequestVersion = version,
            DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
        };
}
